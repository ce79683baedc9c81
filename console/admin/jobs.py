"""The background jobs screens: recent jobs, one job's progress (polled as JSON), cancel.

Thin: reads and the cancel are calls into :mod:`console.services.jobs`. Everyone who may
read the console may follow jobs (read-only); operators may cancel any job
(``console.security.policy``, ``jobs.*``).
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, make_response, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.extensions import db
from console.models import JobItemState
from console.services import audit, jobs
from console.services.errors import ServiceError

#: How often the job page asks for progress while the job runs.
POLL_MS = 1000


class JobsView(SecureBaseView):
    """``/admin/jobs``: background jobs (bulk actions) and their outcomes."""

    def render(self, template: str, **kwargs: Any) -> Any:
        kwargs.setdefault("fmt", dag_display)
        kwargs.setdefault("describe", jobs.describe)
        return super().render(template, **kwargs)

    @expose("/")
    def index(self) -> Any:
        return self.render("admin/jobs/list.html", jobs=jobs.recent_jobs())

    @expose("/<int:job_id>/")
    def detail(self, job_id: int) -> Any:
        job = self._job(job_id)
        if job is None:
            return self._not_found(job_id)
        items = [self._with_run_url(jobs.item_outcome(i)) for i in job.items]
        seen = sum(i["state"] != JobItemState.PENDING for i in items)
        return self.render(
            "admin/jobs/detail.html", job=job, items=items, seen=seen, percent=jobs.percent_done(job), poll_ms=POLL_MS
        )

    @expose("/<int:job_id>/progress")
    def progress(self, job_id: int) -> Any:
        """JSON: the job's state, counts and per-item outcomes."""
        job = self._job(job_id)
        if job is None:
            return jsonify({"message": f"There is no job {job_id}."}), 404
        data = jobs.progress(job, seen=request.args.get("seen", 0, type=int))
        data["items"] = [self._with_run_url(item) for item in data["items"]]
        response = jsonify(data)
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:job_id>/cancel", methods=("POST",))
    def cancel(self, job_id: int) -> Any:
        try:
            job = jobs.request_cancel(job_id)
        except jobs.JobNotFound:
            return self._not_found(job_id)
        except ServiceError as exc:
            flash(str(exc), "warning")
        else:
            audit.record_event(
                "job.cancel",
                actor=current_user.email,
                object_type="job",
                object_id=str(job_id),
                detail={"state": job.state, "kind": job.kind},
            )
            db.session.commit()
            if job.is_final:
                flash(f"Job {job_id} was cancelled before it started.", "success")
            else:
                flash(f"Job {job_id} stops after the item it is doing now.", "success")
        return redirect(url_for(".detail", job_id=job_id))

    def _with_run_url(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item's outcome with a link to the DAG run it made (if any)."""
        made_run = item["run_id"] and item["server_id"] is not None
        item["run_url"] = (
            url_for("dags.run", server_id=item["server_id"], dag_id=item["dag_id"], run_id=item["run_id"])
            if made_run
            else None
        )
        return item

    def _job(self, job_id: int) -> Any:
        try:
            return jobs.get_job(job_id)
        except jobs.JobNotFound:
            return None

    def _not_found(self, job_id: int) -> Any:
        page = self.render("admin/dags/not_found.html", server_name="", message=f"There is no job {job_id}.")
        return make_response(page, 404)
