"""Command line entry point: ``python manage.py --help``."""

from flask.cli import FlaskGroup

from console import create_app

cli = FlaskGroup(create_app=create_app, help="Airflow Console management commands.")

if __name__ == "__main__":
    cli()
