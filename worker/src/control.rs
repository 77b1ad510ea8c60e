//! The worker's control service: what the coordinator (and an operator's
//! drain) asks of it that is not data.

use std::time::Duration;

use hayate_protocol::control::worker_control::worker_control_server::WorkerControl;
use hayate_protocol::{Drain, Drained, LaunchTask, QueryRun, QueryTasksReport, TaskLaunched};
use tonic::{Request, Response, Status};

use crate::service::WorkerService;

#[tonic::async_trait]
impl WorkerControl for WorkerService {
    /// Decodes the task's plan and holds the task; its output runs when a
    /// consumer's `DoGet` asks for it.
    async fn launch_task(
        &self,
        request: Request<LaunchTask>,
    ) -> Result<Response<TaskLaunched>, Status> {
        let span = tracing::info_span!("task", query_id = %request.get_ref().task.query_id,
            attempt = request.get_ref().task.attempt,
            stage = request.get_ref().task.stage,
            task = request.get_ref().task.task);
        hayate_telemetry::adopt_parent(&span, request.metadata());
        let launch = request.into_inner();
        // Decoding a plan is CPU work: keep it off the I/O threads.
        let service = self.clone();
        tokio::task::spawn_blocking(move || {
            let scope = span.clone();
            scope.in_scope(|| service.launch(launch, span))
        })
        .await
        .map_err(|e| Status::internal(format!("task launch panicked: {e}")))??;
        Ok(Response::new(TaskLaunched {}))
    }

    /// Stops every task of the run and answers what each of them did here.
    async fn cancel_run(
        &self,
        request: Request<QueryRun>,
    ) -> Result<Response<QueryTasksReport>, Status> {
        let run = request.into_inner();
        let report = self.registry().cancel_run(&run);
        if report.stopped > 0 {
            tracing::debug!(%run, stopped = report.stopped, "run cancelled");
        }
        Ok(Response::new(report))
    }

    /// Takes no new tasks, and answers once the running ones finish or the
    /// grace period ends.
    async fn drain(&self, request: Request<Drain>) -> Result<Response<Drained>, Status> {
        let grace = Duration::from_secs(request.into_inner().grace_secs);
        self.lifecycle().drain(self.registry(), grace).await;
        Ok(Response::new(Drained {
            running_tasks: self.registry().running_tasks() as u32,
        }))
    }
}
