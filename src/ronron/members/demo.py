"""A fictional but realistic hoster, so that a newcomer sees a living console (`ronron demo`).

About 150 members shaped like Le PIC's (mostly associations around Toulouse, some
individuals), their contacts, three years of dues and the services they use. Everything is
made up, and made so it cannot reach anyone: e-mail addresses are on the domains reserved for
examples, phone numbers in the range ARCEP reserves for fiction (01 99 00 xx xx).

The same seed on the same day gives the same hoster. Every change goes through the actions,
so the audit history fills as it would in real use.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from stdnum import luhn

from ronron.config import DuesCalendar
from ronron.members import actions
from ronron.members.dues import default_amount
from ronron.members.models import Member, Membership, Theme
from ronron.services.actions import record_external_service

DEFAULT_MEMBERS = 150
DEFAULT_SEED = 2013  # any fixed number would do
DEMO_DOMAINS = ("example.org", "example.net", "example.com")  # RFC 2606: reserved for examples


def _items(text: str) -> list[str]:
    """A ';'-separated list written as a block of text (keeps long word lists compact)."""
    return [item.strip() for item in text.split(";") if item.strip()]


def _pairs(text: str) -> list[tuple[str, str]]:
    """'31520 Ramonville-Saint-Agne; …' → [("31520", "Ramonville-Saint-Agne"), …]."""
    return [(item.split(" ", 1)[0], item.split(" ", 1)[1]) for item in _items(text)]


# Real (postal code, commune) pairs. Le PIC is in Ramonville-Saint-Agne, so most members are
# around Toulouse; the others are spread over France, with Corsica, overseas and abroad.
TOULOUSE_AREA = _pairs(
    """31000 Toulouse; 31100 Toulouse; 31200 Toulouse; 31300 Toulouse; 31400 Toulouse;
    31500 Toulouse; 31520 Ramonville-Saint-Agne; 31670 Labège; 31320 Castanet-Tolosan;
    31320 Auzeville-Tolosane; 31130 Balma; 31140 Aucamville; 31150 Fenouillet;
    31170 Tournefeuille; 31770 Colomiers; 31700 Blagnac; 31240 L'Union;
    31120 Portet-sur-Garonne; 31830 Plaisance-du-Touch; 31600 Muret;
    31650 Saint-Orens-de-Gameville; 31750 Escalquens; 31450 Montgiscard;
    31880 La Salvetat-Saint-Gilles; 31490 Léguevin; 31800 Saint-Gaudens; 31250 Revel;
    31290 Villefranche-de-Lauragais; 31380 Montastruc-la-Conseillère; 31330 Grenade;
    31190 Auterive; 31560 Nailloux; 31270 Cugnaux"""
)
OCCITANIE = _pairs(
    """81000 Albi; 81100 Castres; 82000 Montauban; 32000 Auch; 09000 Foix; 09100 Pamiers;
    11000 Carcassonne; 34000 Montpellier; 30000 Nîmes; 66000 Perpignan; 65000 Tarbes;
    12000 Rodez; 46000 Cahors; 48000 Mende; 81600 Gaillac; 11100 Narbonne"""
)
ELSEWHERE = _pairs(
    """75011 Paris; 75020 Paris; 69007 Lyon; 13001 Marseille; 33000 Bordeaux; 44000 Nantes;
    35000 Rennes; 67000 Strasbourg; 59000 Lille; 38000 Grenoble; 63000 Clermont-Ferrand;
    87000 Limoges; 64000 Pau; 21000 Dijon; 45000 Orléans; 14000 Caen; 29200 Brest;
    04300 Forcalquier; 07200 Aubenas; 23000 Guéret"""
)
CORSICA = _pairs("20000 Ajaccio; 20200 Bastia; 20250 Corte")
OVERSEAS = _pairs("97400 Saint-Denis; 97200 Fort-de-France; 97300 Cayenne")
ABROAD = [("BE", "1000", "Bruxelles"), ("CH", "1003", "Lausanne"), ("BE", "4000", "Liège")]

TOULOUSE_QUARTIERS = _items(
    """Saint-Cyprien; des Minimes; Bonnefoy; Arnaud-Bernard; de la Roseraie; Empalot;
    Bagatelle; Rangueil; Croix-Daurade; des Carmes; du Busca; des Chalets"""
)
OTHER_QUARTIERS = ["du Centre", "du Vieux Bourg", "de la Gare", "des Coteaux"]

# Words associations like to name themselves after, with their article.
WORDS = _items(
    """le Colibri; la Ritournelle; le Brin d'herbe; le Tournesol; le Grain de sel; la Boussole;
    le Ricochet; le Cerf-volant; la Lanterne; le Mille-pattes; la Passerelle; le Coquelicot;
    l'Hirondelle; la Marelle; la Roulotte; la Chouette; le Pissenlit; l'Arbre à palabres;
    la Fourmilière; le Moulin"""
)

# "name pattern | kind | themes always given | themes sometimes added". Patterns take {city},
# {de_city} ("de Balma", "d'Albi"), {word} ("la Boussole"), {de_word} ("de la Boussole"),
# {bare} ("Boussole"), {quartier}, {de_quartier} and {street}; kind is A(ssociation) or
# C(ollective).
_PATTERNS = """
Les Jardins partagés {de_word}        | A | nature quartier      | agriculture climat
Jardin partagé {de_city}              | A | nature               | quartier agriculture
Vélo Cité {city}                      | A | velo                 | climat quartier
Atelier vélo {bare}                   | A | velo                 | ess solidarite
Amicale laïque {de_city}              | A | education            | sport culture jeunesse
Théâtre {de_word}                     | A | culture              | jeunesse education
Compagnie {de_word}                   | A | culture              | jeunesse
Radio {bare}                          | A | culture              | numerique quartier
AMAP {de_word}                        | A | agriculture          | ess nature
Repair Café {city}                    | A | ess                  | climat numerique
Ludothèque {bare}                     | A | jeunesse             | culture education
Chorale {bare}                        | A | culture              |
Comité de quartier {quartier}         | A | quartier             | solidarite
Festival {bare}                       | A | culture              | jeunesse tiers-lieux
Les Amis de la médiathèque {de_city}  | A | culture              | education
Épicerie solidaire {bare}             | A | solidarite           | ess agriculture
Ciné-club {de_city}                   | A | culture              | jeunesse
Fablab {city}                         | A | numerique            | education tiers-lieux
Union sportive {de_city}              | A | sport                | jeunesse
Tiers-lieu {bare}                     | A | tiers-lieux          | ess culture
Logiciels libres {city}               | A | numerique            | education
Accorderie {de_city}                  | A | solidarite           | ess quartier
Habitat participatif {bare}           | A | habitat              | ess climat
Maison des jeunes et de la culture {de_city} | A | jeunesse culture | sport
Parents d'élèves de l'école {street}  | A | education            | jeunesse
Accueil des exilés {de_city}          | A | droits-humains solidarite | sante
Centre de santé communautaire {bare}  | A | sante                | solidarite quartier
Ferme pédagogique {de_word}           | A | agriculture education | nature
Randonneurs {de_city}                 | A | sport nature         |
Café associatif {bare}                | A | tiers-lieux quartier | culture
Énergies citoyennes {de_city}         | A | climat ess           | habitat
Collectif {bare}                      | C | culture              | quartier solidarite
Collectif des habitants {de_quartier} | C | quartier             | habitat solidarite
Collectif climat {city}               | C | climat               | velo nature
Collectif numérique {bare}            | C | numerique            | education
"""
_KINDS = {"A": Member.Kind.ASSOCIATION, "C": Member.Kind.COLLECTIVE}
PATTERNS: list[tuple[str, str, list[str], list[str]]] = [
    (pattern.strip(), _KINDS[kind.strip()], always.split(), sometimes.split())
    for pattern, kind, always, sometimes in (
        line.split("|") for line in _PATTERNS.strip().splitlines()
    )
]

STREETS = _items(
    """Jean Jaurès; Victor Hugo; Lucie Aubrac; Olympe de Gouges; Pasteur; Jules Ferry;
    Louise Michel; Simone Veil; Jean Moulin; Marie Curie; Germaine Tillion"""
)
STREET_ADDRESSES = _items(
    """{n} rue {street}; {n} avenue {street}; {n} allée {street}; {n} place {street};
    Maison des associations, {n} rue {street}; {n} chemin du Moulin; {n} rue des Lilas;
    {n} boulevard de la République; {n} impasse des Tilleuls; {n} rue de la Gare"""
)
FIRST_NAMES = _items(
    """Camille; Claire; Sophie; Nathalie; Isabelle; Marie; Léa; Manon; Inès; Fatou; Amina;
    Chloé; Anne; Élise; Margaux; Sylvie; Hélène; Lucie; Nadia; Jeanne; Thomas; Nicolas; Julien;
    Pierre; Karim; Mathieu; Antoine; Louis; Hugo; Paul; Mehdi; Olivier; François; Jérôme;
    Bastien; Yann; Rémi; Sébastien; Dominique; Alex; Joël; Mamadou; Léon; Gaëlle; Noémie; Théo"""
)
LAST_NAMES = _items(
    """Martin; Bernard; Dubois; Thomas; Robert; Richard; Petit; Durand; Leroy; Moreau; Simon;
    Laurent; Lefèvre; Michel; Garcia; David; Bertrand; Roux; Vincent; Fournier; Morel; Girard;
    Mercier; Lambert; Bonnet; Fontaine; Rousseau; Blanc; Guérin; Muller; Perrin; Mathieu;
    Clément; Fabre; Sanchez; Benali; Nguyen; Diallo; Lopez; Delpech; Bousquet; Carrère; Estève;
    Pujol; Cazeneuve; Sabatier; Baylac; Rouquette; Da Silva; Traoré"""
)

_M = Membership.PaymentMethod
PAYMENT_METHODS = [_M.TRANSFER, _M.CHEQUE, _M.ONLINE, _M.CASH, _M.CARD, _M.OTHER]
PAYMENT_WEIGHTS = [50, 22, 15, 7, 4, 2]
# (kind, family, weight): what an association of a community hoster typically uses.
SERVICES = [
    (kind, family, int(weight))
    for kind, family, weight in (
        item.split(":")
        for item in _items(
            """wordpress:web:35; spip:web:15; static:web:10; app:web:4; :web:4; list:lists:30;
            cloud:cloud:20; pad:pad:8; visio:visio:5; galette:galette:6; dolibarr:dolibarr:4;
            mailbox:mail:8"""
        )
    )
]
# How long after the call dues come in: (cumulative share, fewest days, most days).
DELAYS = [(0.5, 0, 45), (0.8, 45, 120), (0.93, 120, 200), (1.0, 200, 300)]
LIST_NAMES = ["adherents", "bureau", "info", "benevoles", "ca", "annonces"]


class DatabaseNotEmpty(Exception):
    """The demo would mix fictional members into a real member file."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(
            ngettext(
                "The demo adds fictional members; this database already has %(count)d member. "
                "Use --force if you really want to add them.",
                "The demo adds fictional members; this database already has %(count)d members. "
                "Use --force if you really want to add them.",
                count,
            )
            % {"count": count}
        )


@dataclass
class ContactPlan:
    name: str
    email: str
    phone: str
    roles: list[str]


@dataclass
class MembershipPlan:
    year: int
    amount: Decimal
    called_on: date
    paid_on: date | None
    method: str


@dataclass
class MemberPlan:
    kind: str
    name: str
    place: tuple[str, str, str]  # country, postal code, city
    themes: list[str]
    contacts: list[ContactPlan]
    details: dict[str, str] = field(default_factory=dict)  # legal_form, rna, siren, address
    number: str = ""
    applied_on: date = date.min
    approved_on: date | None = None
    joined_on: date | None = None
    left_on: date | None = None
    memberships: list[MembershipPlan] = field(default_factory=list)
    services: list[tuple[str, str, str]] = field(default_factory=list)  # kind, family, name


def _de(text: str) -> str:
    """French "de" before a name: du Mans, des Minimes, de la Boussole, d'Albi, de Balma."""
    lowered = text.lower()
    if lowered.startswith("le "):
        return "du " + text[3:]
    if lowered.startswith("les "):
        return "des " + text[4:]
    if lowered.startswith(("la ", "l'")):
        return "de " + text
    bare = unicodedata.normalize("NFKD", text[:1]).lower()[:1]
    return ("d'" if bare in "aeiouy" else "de ") + text


def _bare(word: str) -> str:
    return re.sub(r"^(?:le |la |les |l')", "", word, flags=re.IGNORECASE)


def _departement_code(postal_code: str) -> str:
    if postal_code.startswith("20"):
        return "2A" if postal_code < "20200" else "2B"
    return postal_code[:2]


class _Planner:
    """Draws a whole hoster from one seeded random generator, relative to ``today``."""

    def __init__(self, seed: int | str, today: date, calendar: DuesCalendar) -> None:
        self.rng = random.Random(seed)  # noqa: S311 -- fiction, not secrets: reproducible on purpose
        self.today = today
        self.calendar = calendar
        self.used_names: set[str] = set()

    def day_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))

    def places(self, count: int) -> list[tuple[str, str, str]]:
        """Mostly around Toulouse; a couple in Corsica, overseas and abroad when there is room."""
        rare = min(2, count // 40)
        places = [("FR", *self.rng.choice(CORSICA)) for _ in range(rare)]
        places += [("FR", *self.rng.choice(OVERSEAS)) for _ in range(rare)]
        places += [self.rng.choice(ABROAD) for _ in range(rare)]
        while len(places) < count:
            group = self.rng.choices([TOULOUSE_AREA, OCCITANIE, ELSEWHERE], [65, 15, 20])[0]
            places.append(("FR", *self.rng.choice(group)))
        self.rng.shuffle(places)
        return places[:count]

    def person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def contact(self, first: str, last: str, roles: list[str]) -> ContactPlan:
        first_ascii, last_ascii = slugify(first), slugify(last)  # Élise Da Silva → elise, da-silva
        local = self.rng.choice(
            [
                f"{first_ascii}.{last_ascii}",
                f"{first_ascii[0]}.{last_ascii}",
                first_ascii + last_ascii,
            ]
        )
        phone = ""
        if self.rng.random() < 0.6:
            phone = f"01 99 00 {self.rng.randint(0, 99):02d} {self.rng.randint(0, 99):02d}"
        email = f"{local}@{self.rng.choice(DEMO_DOMAINS)}"
        return ContactPlan(f"{first} {last}", email, phone, roles)

    def organisation_contacts(self) -> list[ContactPlan]:
        count = self.rng.choices([1, 2, 3], [30, 45, 25])[0]
        if count == 1:
            role_sets = [["president", "billing"] + (["tech"] if self.rng.random() < 0.5 else [])]
        else:
            role_sets = [
                ["president"] + (["tech"] if self.rng.random() < 0.3 else []),
                ["treasurer"] + (["billing"] if self.rng.random() < 0.7 else []),
                self.rng.choice([["tech"], ["secretary"], ["secretary", "tech"]]),
            ][:count]
        contacts: list[ContactPlan] = []
        while len(contacts) < count:
            contact = self.contact(*self.person(), role_sets[len(contacts)])
            if all(c.email != contact.email for c in contacts):
                contacts.append(contact)
        return contacts

    def organisation(self, place: tuple[str, str, str]) -> MemberPlan:
        country, postal_code, city = place
        for _attempt in range(50):
            pattern, kind, themes, extra = self.rng.choice(PATTERNS)
            word = self.rng.choice(WORDS)
            quartier = self.rng.choice(
                TOULOUSE_QUARTIERS if city == "Toulouse" else OTHER_QUARTIERS
            )
            name = pattern.format(
                city=city,
                de_city=_de(city),
                word=word,
                de_word=_de(word),
                bare=_bare(word),
                quartier=quartier,
                de_quartier=quartier if quartier.startswith("d") else _de(quartier),
                street=self.rng.choice(STREETS),
            )
            if name not in self.used_names:
                break
        self.used_names.add(name)
        chosen = list(themes)
        for extra_theme in self.rng.sample(extra, k=min(len(extra), self.rng.randint(0, 2))):
            if len(chosen) < 3:
                chosen.append(extra_theme)
        details = self.identity(kind, country, postal_code, name)
        if self.rng.random() < 0.75:
            details["address"] = self.rng.choice(STREET_ADDRESSES).format(
                n=self.rng.randint(1, 120), street=self.rng.choice(STREETS)
            )
        return MemberPlan(kind, name, place, chosen, self.organisation_contacts(), details)

    def identity(self, kind: str, country: str, postal_code: str, name: str) -> dict[str, str]:
        """Legal form, RNA and SIREN, as a French hoster would find them in its file."""
        if country != "FR":
            return {"legal_form": "ASBL" if country == "BE" else "Association (art. 60 CC)"}
        if kind == Member.Kind.COLLECTIVE:
            return {"legal_form": self.rng.choice(["", "Association de fait"])}
        dep = _departement_code(postal_code)
        legal_form = "Association loi 1901"
        if dep in {"57", "67", "68"}:  # Alsace-Moselle keeps the local law of 1908
            legal_form = "Association de droit local"
        rna = ""
        if not dep.startswith("97") and self.rng.random() < 0.6:
            rna = f"W{dep}{self.rng.randint(1, 4)}{self.rng.randint(0, 999999):06d}"
        siren = ""
        if name.startswith("Énergies citoyennes"):
            legal_form = "SCIC SAS"
        if legal_form == "SCIC SAS" or self.rng.random() < 0.1:
            body = self.rng.choice("3457") + "".join(str(self.rng.randint(0, 9)) for _ in "1234567")
            siren = body + luhn.calc_check_digit(body)
        return {"legal_form": legal_form, "rna": rna, "siren": siren}

    def individual(self, place: tuple[str, str, str]) -> MemberPlan:
        first, last = self.person()
        theme = self.rng.choice(["numerique", "culture", "education", "climat", "ess"])
        contact = self.contact(first, last, ["billing"])
        return MemberPlan(Member.Kind.INDIVIDUAL, f"{first} {last}", place, [theme], [contact])

    def history(self, member: MemberPlan) -> None:
        """Application, approval and joining dates over the last eight years, recent ones likelier
        (a hoster grows)."""
        # Joining density falls linearly from 1.5 (today) to 0.5 (eight years ago): x = F⁻¹(u).
        fraction = 1.5 - math.sqrt(2.25 - 2 * self.rng.random())
        days_ago = 20 + int((8 * 365 - 20) * fraction)
        member.joined_on = self.today - timedelta(days=days_ago)
        member.applied_on = member.joined_on - timedelta(days=self.rng.randint(14, 75))
        member.approved_on = self.day_between(member.applied_on, member.joined_on)

    def pending(self, member: MemberPlan, approved: bool) -> None:
        member.applied_on = self.today - timedelta(days=self.rng.randint(3, 45))
        if approved:
            member.approved_on = self.day_between(member.applied_on, self.today)

    def years(self) -> list[int]:
        current = self.today.year
        years = [current - 2, current - 1, current]
        if self.calendar.call_date(current + 1) <= self.today:
            years.append(current + 1)  # next year's dues are already out (December)
        return [y for y in years if self.calendar.call_date(y) <= self.today]

    def memberships(self, member: MemberPlan) -> None:
        assert member.joined_on is not None
        amount = Decimal(str(default_amount(member.kind, self.calendar)))
        for year in self.years():
            call = self.calendar.call_date(year)
            if member.joined_on > date(year, 12, 31):
                continue
            if member.joined_on >= self.calendar.call_date(year + 1):
                continue  # joined after next year's call: their first dues are next year's
            if member.left_on is not None and member.left_on <= date(year, 1, 1):
                continue  # gone before the year began: its call was cancelled
            called_on = max(call, member.joined_on)
            newcomer = called_on == member.joined_on
            leaving_year = (
                member.left_on is not None
                and member.left_on <= self.today
                and member.left_on.year == year
            )
            paid_on = self.payment_day(called_on, newcomer, year, leaving_year)
            method = ""
            if paid_on is not None:
                method = self.rng.choices(PAYMENT_METHODS, PAYMENT_WEIGHTS)[0]
            member.memberships.append(MembershipPlan(year, amount, called_on, paid_on, method))

    def payment_day(
        self, called_on: date, newcomer: bool, year: int, leaving_year: bool
    ) -> date | None:
        """When the dues came in, if they did: most within weeks, a few after the reminder,
        some never (those members left, or are cut off this year)."""
        if newcomer:
            delay = self.rng.randint(0, 10)  # joining is paying the first dues
        else:
            draw = self.rng.random()
            never = 0.5 if leaving_year else (0.06 if year >= self.today.year else 0.0)
            if draw < never:
                return None
            draw = self.rng.random()
            delay = next(self.rng.randint(low, high) for p, low, high in DELAYS if draw < p)
        paid_on = called_on + timedelta(days=delay)
        return paid_on if paid_on <= self.today else None

    def services(self, member: MemberPlan) -> None:
        slug = slugify(member.name)[:30].strip("-") or "site"
        count = self.rng.choices([1, 2, 3, 4], [40, 35, 18, 7])[0]
        chosen: list[tuple[str, str, int]] = []
        while len(chosen) < count:
            pick = self.rng.choices(SERVICES, [w for *_, w in SERVICES])[0]
            if pick not in chosen and (pick[1] != "web" or all(c[1] != "web" for c in chosen)):
                chosen.append(pick)
        for kind, family, _weight in chosen:
            name = ""
            if family == "web":
                name = f"{slug}.{self.rng.choice(DEMO_DOMAINS)}"
            elif family == "lists":
                name = f"{self.rng.choice(LIST_NAMES)}@listes.{slug}.example.org"
            elif family == "mail":
                name = f"contact@{slug}.example.net"
            member.services.append((kind, family, name))

    def plan(self, count: int, starts: dict[str, int]) -> list[MemberPlan]:
        individuals = round(count / 6)
        places = self.places(count)
        members = [self.organisation(p) for p in places[: count - individuals]]
        members += [self.individual(p) for p in places[count - individuals :]]
        self.rng.shuffle(members)
        applied, approved = round(count * 0.027), round(count * 0.013)
        for index, member in enumerate(members):
            if index < applied + approved:
                self.pending(member, approved=index >= applied)
            else:
                self.history(member)
        settled = [m for m in members if m.joined_on is not None]
        old = [m for m in settled if m.joined_on and m.joined_on <= self.today - timedelta(400)]
        departures = self.rng.sample(
            old, k=min(len(old), round(count * 0.067) + round(count * 0.02))
        )
        for position, member in enumerate(departures):
            assert member.joined_on is not None
            if position < round(count * 0.02):  # notice given: leaves within a few months
                member.left_on = self.today + timedelta(days=self.rng.randint(20, 120))
            else:
                earliest = max(member.joined_on + timedelta(365), self.today - timedelta(3 * 365))
                member.left_on = self.day_between(earliest, self.today - timedelta(days=7))
        for member in settled:
            self.memberships(member)
            if (member.left_on is None or member.left_on > self.today) and self.rng.random() < 0.75:
                self.services(member)
        # Numbers follow the order of application, as a hoster hands them out.
        members.sort(key=lambda m: (m.applied_on, m.name))
        counters = dict(starts)
        for member in members:
            prefix = "I" if member.kind == Member.Kind.INDIVIDUAL else "A"
            member.number = f"{prefix}{counters[prefix]:04d}"
            counters[prefix] += 1
        return members


def _next_numbers() -> dict[str, int]:
    """Where each prefix's numbering continues, so that --force never collides."""
    starts = {"A": 1, "I": 1}
    for number in Member.objects.values_list("number", flat=True):
        prefix, digits = number[:1].upper(), number[1:]
        if prefix in starts and digits.isdigit():
            starts[prefix] = max(starts[prefix], int(digits) + 1)
    return starts


def plan_demo(
    count: int = DEFAULT_MEMBERS,
    seed: int | str = DEFAULT_SEED,
    today: date | None = None,
    starts: dict[str, int] | None = None,
) -> list[MemberPlan]:
    """The fictional hoster, drawn but not written: same seed and day, same hoster."""
    planner = _Planner(seed, today or date.today(), settings.RONRON.dues)
    return planner.plan(count, starts or {"A": 1, "I": 1})


def _load_member(plan: MemberPlan, themes: dict[str, Theme], today: date, actor: Any) -> Member:
    # Members of long standing arrive with their dates, as from the hoster's old file; the last
    # year's newcomers go through application, approval and admission, so that the recent
    # history reads as it will in real use.
    recent = plan.joined_on is None or plan.joined_on > today - timedelta(days=365)
    dates = {} if recent else {"approved_on": plan.approved_on, "joined_on": plan.joined_on}
    member = actions.create_member(
        actor=actor,
        themes=[themes[slug] for slug in plan.themes if slug in themes],
        number=plan.number,
        kind=plan.kind,
        name=plan.name,
        country=plan.place[0],
        postal_code=plan.place[1],
        city=plan.place[2],
        status=Member.Status.APPLIED if recent else Member.Status.MEMBER,
        applied_on=plan.applied_on,
        **dates,
        # Marks fictional members so that they can be found and removed from a real file.
        notes=_("Fictional member created by “ronron demo”."),
        **plan.details,
    )
    for contact in plan.contacts:
        actions.add_contact(
            member,
            actor=actor,
            roles=contact.roles,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
        )
    if recent and plan.approved_on is not None:
        member = actions.approve_application(member, actor=actor, on=plan.approved_on)
    if recent and plan.joined_on is not None:
        member = actions.admit_member(member, actor=actor, on=plan.joined_on)
    for dues in plan.memberships:
        if dues.year < today.year:
            # Earlier years arrive as history, the way a hoster brings its ledger into Ronron.
            actions.create_membership(
                member,
                actor=actor,
                year=dues.year,
                amount=dues.amount,
                called_on=dues.called_on,
                paid_on=dues.paid_on,
                payment_method=dues.method,
            )
            continue
        membership = actions.call_dues(member, actor=actor, year=dues.year, on=dues.called_on)
        if dues.paid_on is not None:
            actions.record_payment(
                membership, actor=actor, paid_on=dues.paid_on, method=dues.method
            )
    for kind, family, name in plan.services:
        record_external_service(member, actor=actor, kind=kind, family=family, name=name)
    if plan.left_on is not None:
        if plan.left_on > today:
            member = actions.record_departure_notice(member, actor=actor, leave_on=plan.left_on)
        else:
            member = actions.record_departure(member, actor=actor, on=plan.left_on)
    return member


def load_demo(
    *,
    count: int = DEFAULT_MEMBERS,
    seed: int | str = DEFAULT_SEED,
    force: bool = False,
    today: date | None = None,
    actor: Any = None,
) -> list[Member]:
    """Write the fictional hoster through the actions, in one transaction; the new members.

    Raises DatabaseNotEmpty when members exist already, unless ``force``.
    """
    today = today or date.today()
    with transaction.atomic():
        existing = Member.objects.count()
        if existing and not force:
            raise DatabaseNotEmpty(existing)
        plans = plan_demo(count, seed, today, _next_numbers())
        themes = Theme.objects.in_bulk([s for p in plans for s in p.themes], field_name="slug")
        return [_load_member(plan, themes, today, actor) for plan in plans]
