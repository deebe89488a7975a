#!/usr/bin/perl
# Re-syncs the members of each list named on stdin (one LIST@ROBOT a line) from its data
# sources, in one Sympa process: the same handler as `sympa include`, without paying Perl's
# and Sympa's start-up (~0.5 s) per list. Prints one tab-separated line per list:
#   LIST@ROBOT  STATUS  ADDED  DELETED  UPDATED  HELD
# STATUS: ok | partial | failed | skipped (locked by another sync) | closed | unknown
# Run as `perl -I SYMPA_LIBRARY -e SCRIPT` (Ronron sends it with the command: nothing to install).
use strict;
use warnings;
use Sympa;
use Sympa::CLI::include;
use Sympa::DatabaseManager;
use Sympa::List;
use Sympa::Spindle::ProcessRequest;

# Loads sympa.conf (or $SYMPA_CONFIG), connects to the database, becomes the sympa user.
Sympa::CLI::include->arrange();
# Each inclusion writes one row at a time: without an fsync per row (WAL journal only; the
# sync can be re-run), SQLite stops being the bottleneck.
my $dbh = Sympa::DatabaseManager->instance->__dbh;
$dbh->do('PRAGMA synchronous=NORMAL')
    if lc(($dbh->selectrow_array('PRAGMA journal_mode'))[0] // '') eq 'wal';

$| = 1;
while (my $id = <STDIN>) {
    chomp $id;
    my ($name, $robot) = split /\@/, $id, 2;
    my $list = ($name and $robot) ? Sympa::List->new($name, $robot, {just_try => 1}) : undef;
    unless ($list) { print "$id\tunknown\t0\t0\t0\t0\n"; next; }
    # Including into a closed list would put its members back in the database.
    unless ($list->{'admin'}{'status'} eq 'open') { print "$id\tclosed\t0\t0\t0\t0\n"; next; }
    my $spindle = Sympa::Spindle::ProcessRequest->new(
        context          => $list,
        action           => 'include',
        role             => 'member',
        sender           => Sympa::get_address($list, 'listmaster'),
        scenario_context => {skip => 1},
    );
    my $spun = $spindle && $spindle->spin;
    my %entry = map { ($_->[2] => ($_->[3] // {})) } @{$spindle ? $spindle->{stash} || [] : []};
    my ($status, $result) =
          $entry{include_performed}  ? ('ok',      $entry{include_performed}{result})
        : $entry{include_partial}    ? ('partial', $entry{include_partial}{result})
        : $entry{include_incomplete} ? ('failed',  $entry{include_incomplete}{result})
        : $entry{include_skip}       ? ('skipped', {})
        : $spun                      ? ('ok',      {})
        :                              ('failed',  {});
    printf "%s\t%s\t%d\t%d\t%d\t%d\n", $id, $status,
        map { $result->{$_} // 0 } qw(added deleted updated held);
}
