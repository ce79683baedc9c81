"""The scheduler process: leader lease, job reconciliation, the fire path, dispatch and the monitor.

Started only by ``python manage.py scheduler`` (see :mod:`console.scheduler.process`);
web workers never start one.
"""
