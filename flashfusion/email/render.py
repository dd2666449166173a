from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def _environment() -> Environment:
    # Plain-text emails: no HTML autoescaping, but a missing variable is an error, not a blank.
    return Environment(
        loader=PackageLoader("flashfusion.email", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)
