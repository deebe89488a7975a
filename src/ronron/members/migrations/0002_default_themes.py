from django.db import migrations

# The starting list; admins edit it in the console. Names are in French because that is what
# the hoster's members read; slugs are the stable codes used by imports and reports.
DEFAULT_THEMES = [
    ("culture", "Culture"),
    ("education", "Éducation"),
    ("ess", "Économie sociale et solidaire"),
    ("nature", "Nature"),
    ("climat", "Climat"),
    ("tiers-lieux", "Tiers-lieux"),
    ("quartier", "Vie de quartier"),
    ("velo", "Vélo"),
    ("solidarite", "Solidarité"),
    ("sport", "Sport"),
    ("sante", "Santé"),
    ("numerique", "Numérique libre"),
    ("agriculture", "Agriculture"),
    ("jeunesse", "Jeunesse"),
    ("droits-humains", "Droits humains"),
    ("habitat", "Habitat"),
]


def add_themes(apps, schema_editor):
    Theme = apps.get_model("members", "Theme")
    for slug, name in DEFAULT_THEMES:
        Theme.objects.get_or_create(slug=slug, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(add_themes, migrations.RunPython.noop)]
