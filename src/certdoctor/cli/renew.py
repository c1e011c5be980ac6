"""``certdoctor renew [--config FILE.toml] [NAME...]``: obtain and renew certificates over ACME.

Exit codes: 0 every certificate renewed or not due, 1 one failed (the old certificate stays
installed and served; ``error:``/``hint:`` say why), 2 bad usage or a bad config.
``--check`` changes nothing and uses Nagios codes: 0 not due, 1 due or the last attempt
failed, 2 expired or under a tenth of its lifetime left while due, 3 unknown (a bad config
included). docs/RENEW.md has the config reference.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Nagios
from certdoctor.cli.options import json_option


@click.command("renew")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE.toml",
              help="The renew config (default: $XDG_CONFIG_HOME/certdoctor/renew.toml).")
@click.option("--check", is_flag=True, help="Change nothing: say when each certificate is due and why "
              "(Nagios exit codes; safe from cron).")
@click.option("--force", is_flag=True, help="Renew now, whatever the schedule or a recorded Retry-After says.")
@click.option("--rollback-on-fail", is_flag=True,
              help="When the deploy hook fails or an endpoint does not serve the new leaf: restore the previous "
                   "files, run the hook again and prove the previous leaf is served.")
@json_option
def command(names: tuple[str, ...], config_path: str | None, check: bool, force: bool, rollback_on_fail: bool,
            as_json: bool) -> int:
    """Obtain and renew certificates over ACME (ARI first), install them without loss, prove them served.

    NAME selects certificates of the config (default: all). Exit 0 ok, 1 a renewal failed
    (the old certificate is kept), 2 bad usage. --check: Nagios codes 0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN.
    """
    from certdoctor.errors import CertdoctorError, UsageError
    from certdoctor.renew.config import load_config
    from certdoctor.renew.run import renew

    if check and (force or rollback_on_fail):
        raise UsageError("--check changes nothing: it does not take --force or --rollback-on-fail",
                         "Drop --check to renew, or drop the other options.")
    try:
        config = load_config(config_path)
        report = renew(config, names, force=force, check=check, rollback_on_fail=rollback_on_fail)
    except CertdoctorError as exc:
        if not check:
            raise
        from certdoctor.render.text import safe

        text = " ".join(exc.message.split())
        click.echo(f"RENEW UNKNOWN - {safe(text)}")
        click.echo(f"error: {safe(text)}", err=True)
        click.echo(f"hint: {safe(' '.join((exc.hint or 'see docs/RENEW.md').split()))}", err=True)
        return int(Nagios.UNKNOWN)
    if as_json:
        from certdoctor.render.json import emit
        from certdoctor.render.renew import renew_json

        emit(renew_json(report))
        if not check:
            for r in report.results:
                err = r.error
                if err is not None:
                    from certdoctor.render.text import safe

                    click.echo(f"error: {safe(r.name)}: {safe(' '.join(err.summary.split()))}", err=True)
    else:
        from certdoctor.render.renew import render_renew

        render_renew(report)
    return report.exit_code
