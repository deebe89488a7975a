"""Département and région derived offline from a French postal code (and city when shared)."""

from __future__ import annotations

import pytest

from ronron.members import actions, geography
from ronron.members.geography import REGIONS, UNKNOWN, Place, locate

PACA = "Provence-Alpes-Côte d'Azur"


@pytest.mark.parametrize(
    ("postal_code", "city", "expected"),
    [
        ("20000", "Ajaccio", Place("2A", "Corse")),
        ("20090", "Ajaccio", Place("2A", "Corse")),
        ("20200", "Bastia", Place("2B", "Corse")),
        ("20600", "Furiani", Place("2B", "Corse")),
        ("97400", "Saint-Denis", Place("974", "La Réunion")),
        ("97600", "Mamoudzou", Place("976", "Mayotte")),
        ("97100", "Basse-Terre", Place("971", "Guadeloupe")),
        ("97200", "Fort-de-France", Place("972", "Martinique")),
        ("97300", "Cayenne", Place("973", "Guyane")),
        ("31520", "Ramonville-Saint-Agne", Place("31", "Occitanie")),
        ("35000", "Rennes", Place("35", "Bretagne")),
        ("45000", "Orléans", Place("45", "Centre-Val de Loire")),
    ],
)
def test_corsica_overseas_and_metropolitan_codes(postal_code, city, expected):
    assert locate(postal_code, city, "FR") == expected


@pytest.mark.parametrize(
    ("postal_code", "departement", "region"),
    [
        ("75001", "75", "Île-de-France"),
        ("75116", "75", "Île-de-France"),
        ("75020", "75", "Île-de-France"),
        ("69001", "69", "Auvergne-Rhône-Alpes"),
        ("69009", "69", "Auvergne-Rhône-Alpes"),
        ("13001", "13", PACA),
        ("13016", "13", PACA),
    ],
)
def test_paris_lyon_marseille_arrondissements(postal_code, departement, region):
    assert locate(postal_code, "") == Place(departement, region)


@pytest.mark.parametrize(
    ("postal_code", "city", "departement"),
    [
        # Codes that La Poste gives to communes of two départements.
        ("05110", "Claret", "04"),
        ("05110", "La Saulce", "05"),
        ("13780", "Riboux", "83"),
        ("13780", "Cuges-les-Pins", "13"),
        ("01410", "Lajoux", "39"),
        ("01410", "Mijoux", "01"),
        ("42620", "Saint-Pierre-Laval", "03"),
        ("42620", "Saint-Martin-d'Estréaux", "42"),
        ("52100", "Saint-Dizier", "52"),
        ("52100", "Sapignicourt", "51"),
        ("37160", "Buxeuil", "86"),
        ("37160", "Descartes", "37"),
    ],
)
def test_shared_codes_resolved_by_city(postal_code, city, departement):
    place = locate(postal_code, city)
    assert place.departement == departement
    assert place.region == geography.region_of(departement)


@pytest.mark.parametrize(
    "city",
    [
        "ST PIERRE LAVAL",
        "saint pierre laval",
        "St-Pierre-Laval Cedex",
        "SAINT-PIERRE-LAVAL CEDEX 2",
    ],
)
def test_city_spelling_does_not_matter(city):
    assert locate("42620", city).departement == "03"


def test_accents_and_apostrophes_do_not_matter():
    assert locate("05700", "L'EPINE").departement == "05"
    assert locate("05700", "Lépine").departement == "05"
    assert locate("05700", "villebois les pins").departement == "26"


def test_old_name_of_a_merged_commune_still_resolves():
    # Bellegarde-sur-Valserine is now part of Valserhône (Ain); 01200 also serves Éloise (74).
    assert locate("01200", "Bellegarde-sur-Valserine").departement == "01"
    assert locate("01200", "Éloise").departement == "74"


def test_unresolved_shared_code_keeps_region_when_candidates_agree():
    # 05110 serves Alpes-de-Haute-Provence and Hautes-Alpes: both in PACA.
    assert locate("05110", "") == Place("", PACA)
    assert locate("05110", "Gap") == Place("", PACA)
    # 01410 serves Ain (Auvergne-Rhône-Alpes) and Jura (Bourgogne-Franche-Comté): no guess.
    assert locate("01410", "Nowhere") == UNKNOWN


def test_cedex_and_unlisted_codes_fall_back_on_the_first_digits():
    assert locate("31035", "Toulouse Cedex 1") == Place("31", "Occitanie")
    assert locate("75700", "Paris Cedex 07") == Place("75", "Île-de-France")
    assert locate("20176", "Ajaccio Cedex") == Place("2A", "Corse")
    assert locate("20299", "") == Place("2B", "Corse")
    assert locate("97409", "Saint-Denis Cedex") == Place("974", "La Réunion")


@pytest.mark.parametrize("postal_code", ["00000", "96000", "99999", "20900"])
def test_codes_that_designate_no_departement_are_unknown(postal_code):
    assert locate(postal_code, "") == UNKNOWN


def test_overseas_collectivities_have_a_code_but_no_region():
    assert locate("98714", "Papeete") == Place("987", "")
    assert locate("97133", "Saint-Barthélemy") == Place("977", "")
    assert locate("97150", "Saint-Martin") == Place("978", "")
    assert geography.departement_name("987") == "Polynésie française"


def test_monaco_and_foreign_countries_are_unknown():
    assert locate("98000", "Monaco", "FR") == UNKNOWN
    assert locate("98000", "Monaco", "MC") == UNKNOWN
    assert locate("75001", "Paris", "BE") == UNKNOWN
    assert locate("1000", "Bruxelles", "BE") == UNKNOWN


def test_overseas_iso_country_codes_count_as_france_only_for_their_territory():
    assert locate("97400", "Saint-Denis", "RE") == Place("974", "La Réunion")
    assert locate("75001", "Paris", "RE") == UNKNOWN


@pytest.mark.parametrize(
    ("postal_code", "city", "country"),
    [
        ("ABCDE", "", "FR"),
        ("75OO1", "Paris", "FR"),
        ("7500", "", "FR"),
        ("750011", "", "FR"),
        ("", "", "FR"),
        ("75001\r\n", "Paris", "FR"),
        ("750\n01", "Paris", "FR"),
        ("75001", "Paris\r\nBcc: x", "FR"),
        ("75001", "Paris", "F\nR"),
        ("٧٥٠٠١", "Paris", "FR"),  # digits, but not ASCII ones
        (None, None, None),
    ],
)
def test_malformed_input_is_unknown_without_error(postal_code, city, country):
    assert locate(postal_code, city, country) == UNKNOWN


def test_spaces_inside_a_code_are_tolerated():
    assert locate(" 31 520 ", "Ramonville") == Place("31", "Occitanie")


def test_regions_are_the_eighteen_official_names():
    assert len(REGIONS) == 18
    assert len(set(REGIONS)) == 18
    assert {"Centre-Val de Loire", "Île-de-France", "La Réunion", PACA} <= set(REGIONS)
    deps = geography.departements()
    assert len([code for code, _ in deps if geography.region_of(code)]) == 101
    assert {geography.region_of(code) for code, _ in deps} - {""} == set(REGIONS)


def test_departement_names_and_regions():
    assert geography.departement_name("2A") == "Corse-du-Sud"
    assert geography.departement_name("31") == "Haute-Garonne"
    assert geography.departement_name("974") == "La Réunion"
    assert geography.departement_name("20") == ""
    assert geography.region_of("2b") == "Corse"
    assert geography.region_of("93") == "Île-de-France"
    assert geography.region_of("99") == ""
    assert geography.departements("Corse") == [("2A", "Corse-du-Sud"), ("2B", "Haute-Corse")]


@pytest.mark.django_db
def test_creating_a_member_stores_its_departement_and_region(staff_user):
    member = actions.create_member(
        actor=staff_user,
        number="A0301",
        kind="association",
        name="Les Amis du Vélo",
        postal_code="13780",
        city="Riboux",
    )
    member.refresh_from_db()
    assert (member.departement, member.region) == ("83", PACA)

    member = actions.update_member(member, actor=staff_user, postal_code="20200", city="Bastia")
    member.refresh_from_db()
    assert (member.departement, member.region) == ("2B", "Corse")


@pytest.mark.django_db
def test_a_foreign_member_has_no_departement(staff_user):
    member = actions.create_member(
        actor=staff_user,
        number="B0001",
        kind="association",
        name="Les Chatons de Liège",
        postal_code="4000",
        city="Liège",
        country="be",
    )
    member.refresh_from_db()
    assert (member.country, member.departement, member.region) == ("BE", "", "")
