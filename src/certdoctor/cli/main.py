"""The ``certdoctor`` command: a lazy table of subcommands, one module each.

Only the chosen command's module is imported, so ``certdoctor --version`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from certdoctor import __version__

# command name -> (module under certdoctor.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("inspect", "Show the certificates of a file or of a server's presented chain."),
    "convert": ("convert", "Convert certificates between PEM, DER, PKCS#7 and PKCS#12."),
    "lab": ("lab", "Serve the built-in lab of broken TLS endpoints on 127.0.0.1."),
    "diagnose": ("diagnose", "Say why a Python client fails (or would fail) on a URL."),
    "fix": ("fix", "Build the bundle or chain that fixes a failure, and prove it."),
    "bundle": ("bundle", "Build or audit a CA bundle (certifi plus your CAs)."),
    "lint": ("lint", "Find disabled or weakened TLS verification in Python code."),
    "pin": ("pin", "Show SPKI pins of a chain and make a backup pin key."),
    "expiry": ("expiry", "Expiry of every certificate of every chain (Nagios exit codes)."),
    "revocation": ("revocation", "Check revocation by CRL and OCSP, signatures verified."),
    "monitor": ("monitor", "Check a fleet of endpoints and certificate files (Nagios exit codes)."),
    "renew": ("renew", "Obtain and renew certificates over ACME (ARI), install, prove them served."),
    "csr": ("csr", "Make a private key and a CSR with every name in subjectAltName."),
    "report": ("report", "Write the HTML report of a monitor state file (latest results, changes)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _) in COMMANDS.items() if _available(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(f"certdoctor.cli.{entry[0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # help text without importing every command module
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"certdoctor.cli.{module}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="certdoctor")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """certdoctor: diagnose and fix SSL: CERTIFICATE_VERIFY_FAILED, without verify=False.

    Exit codes: 0 ok, 1 a problem was found, 2 bad usage or input
    (expiry uses Nagios codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, turning certdoctor errors into one-line messages."""
    from certdoctor.cli.common import run

    sys.exit(run(cli, argv))


if __name__ == "__main__":  # pragma: no cover
    main()
