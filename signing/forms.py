from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class OtpForm(forms.Form):
    """The 6-digit code. When the signer places the signature, the box comes with it (filled by
    static/js/placement.js)."""

    otp = forms.RegexField(
        label=_("Code from Peruri"),
        regex=r"^\d{6}$",
        max_length=6,
        min_length=6,
        strip=True,
        error_messages={"invalid": _("Enter the 6-digit code.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": r"\d{6}", "maxlength": "6"}
        ),
    )
    page = forms.IntegerField(min_value=1, max_value=999, required=False, widget=forms.HiddenInput)
    lower_left_x = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    lower_left_y = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    upper_right_x = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)
    upper_right_y = forms.IntegerField(min_value=0, max_value=999, required=False, widget=forms.HiddenInput)

    def box(self) -> dict[str, int] | None:
        data: dict[str, Any] = self.cleaned_data
        values = [data.get(k) for k in ("page", "lower_left_x", "lower_left_y", "upper_right_x", "upper_right_y")]
        if any(v is None for v in values):
            return None
        page, llx, lly, urx, ury = values
        return {"page": page, "llx": llx, "lly": lly, "urx": urx, "ury": ury}
