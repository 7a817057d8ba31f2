from django.contrib.auth.mixins import LoginRequiredMixin


class ScopedQuerysetMixin(LoginRequiredMixin):
    """Base for every page over a scoped model (ListView, DetailView …): the queryset is limited
    to the user's grid scope, so an object outside it is a 404 like one that does not exist."""

    def get_queryset(self):
        from towngrid.accounts.access import visible_to

        return visible_to(self.request.user, super().get_queryset())
