from django.db import migrations, models

ROLES = ["customer_service", "warehouse", "finance", "manager"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    initial = True

    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.CreateModel(
            name="Sequence",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("last_value", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_roles, drop_roles),
    ]
