//! How a task is named, everywhere it is named: in the launch, in the
//! tickets that read its output, in its reports, on the worker that holds
//! it. A query that loses a worker before any row reached the client runs
//! again; each run is an attempt of its own, so the abandoned run's tasks
//! and the new run's never mix on a worker.

use std::fmt;

/// One run of a query: what a cancel stops on the workers and what their
/// tasks are grouped by.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct QueryRun {
    #[prost(string, tag = "1")]
    pub query_id: String,
    /// From 1.
    #[prost(uint32, tag = "2")]
    pub attempt: u32,
}

/// One task of one stage of one run of a query.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct TaskId {
    #[prost(string, tag = "1")]
    pub query_id: String,
    #[prost(uint32, tag = "2")]
    pub attempt: u32,
    #[prost(uint32, tag = "3")]
    pub stage: u32,
    #[prost(uint32, tag = "4")]
    pub task: u32,
}

impl QueryRun {
    pub fn new(query_id: impl Into<String>, attempt: u32) -> Self {
        Self {
            query_id: query_id.into(),
            attempt,
        }
    }

    /// Task `task` of stage `stage` of this run.
    pub fn task(&self, stage: u32, task: u32) -> TaskId {
        TaskId {
            query_id: self.query_id.clone(),
            attempt: self.attempt,
            stage,
            task,
        }
    }
}

impl TaskId {
    /// The run the task belongs to.
    pub fn run(&self) -> QueryRun {
        QueryRun::new(self.query_id.clone(), self.attempt)
    }

    /// Whether the task belongs to `run`.
    pub fn is_in(&self, run: &QueryRun) -> bool {
        self.attempt == run.attempt && self.query_id == run.query_id
    }
}

impl fmt::Display for QueryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query {} attempt {}", self.query_id, self.attempt)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query {} attempt {} stage {} task {}",
            self.query_id, self.attempt, self.stage, self.task
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_task_knows_its_run_and_survives_the_wire() {
        let run = QueryRun::new("q", 2);
        let id = run.task(3, 1);
        assert!(id.is_in(&run));
        assert!(!id.is_in(&QueryRun::new("q", 1)));
        assert_eq!(TaskId::decode(id.encode_to_vec().as_slice()).unwrap(), id);
        assert_eq!(id.to_string(), "query q attempt 2 stage 3 task 1");
    }
}
