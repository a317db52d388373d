"""The organizer's admin: author contests, run them, and look at their results.

- `contest`: the contest's page (questions inline, live state, controls, standings);
- `question`: a question's own page, with its choices;
- `results`: participants and submissions, read-only;
- `forms`: what they share (service-backed saves).
"""

from django.contrib import admin

from contests.admin import contest, question, results

# The admin's "View site" link: the home page of the web app.
admin.site.site_url = "/"

__all__ = ["contest", "question", "results"]
