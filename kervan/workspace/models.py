from django.conf import settings
from django.db import models


class SavedView(models.Model):
    """A named set of filters, sort and columns on one list: private to its owner, or shared with the team."""

    list_key = models.CharField(max_length=40)  # the ListSpec key: "customers", "orders"…
    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shared = models.BooleanField(default=False)
    query = models.TextField()  # the list's query string (filters, sort, cols) without cursor or view
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["list_key", "owner"], name="savedview_list_owner_idx")]

    def __str__(self) -> str:
        return self.name


class TodayCount(models.Model):
    """The last background count of a Today card's figure that can be slow in a large shop (kervan.workspace.today:
    register_today_count): the card shows it, with its time, when counting live takes too long."""

    key = models.CharField(max_length=60, unique=True)
    value = models.PositiveIntegerField()
    more = models.BooleanField(default=False)  # more than `value` (the count stopped at its limit)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.value}{'+' if self.more else ''}"
