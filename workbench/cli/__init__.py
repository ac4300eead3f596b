"""The command-line interface: the Typer app (:mod:`workbench.cli.main`) and the helpers every
capability's commands share (:mod:`workbench.cli.common`)."""


def main() -> None:
    """The ``workbench`` entry point (see :func:`workbench.cli.main.main`)."""
    from workbench.cli.main import main as run

    run()
