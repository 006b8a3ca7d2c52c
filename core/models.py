from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Sequence(models.Model):
    """A named counter. Taken under a row lock inside the caller's transaction, so a
    rolled-back transaction gives its number back: the series stays gapless."""

    name = models.CharField(max_length=64, primary_key=True)
    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.last_value}"
