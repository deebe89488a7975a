"""Tests of the stand-in Nextcloud the Nextcloud driver is tested against."""
