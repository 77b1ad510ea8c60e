//! Turning a stage template into the plan of one concrete task: which files
//! it scans, how wide its shuffle output is, and where its inputs live.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, replace_children_if_necessary};

use crate::exchange::{ExchangeKind, ExchangeReaderExec, PartitionSource};
use crate::split::file_scan_config;
use crate::stage::Stage;
use hayate_protocol::{PartitionTicket, QueryRun};

/// Where the tasks of a producer stage run and how many output partitions
/// each one has, known once those tasks are placed and built.
#[derive(Debug, Clone, Default)]
pub struct ProducerLayout {
    /// The run of the query the tasks belong to.
    pub run: QueryRun,
    pub stage_id: usize,
    /// Worker address of each task.
    pub addresses: Vec<String>,
    /// Output partitions of each task.
    pub partitions: Vec<usize>,
}

/// The streams that the reader of `consumer_task` merges, per output partition.
pub fn reader_sources(
    reader: &ExchangeReaderExec,
    producer: &ProducerLayout,
    consumer_task: usize,
) -> Vec<Vec<PartitionSource>> {
    let source = |task: usize, partition: usize, consumer: usize| PartitionSource {
        address: producer.addresses[task].clone(),
        ticket: PartitionTicket {
            task: producer.run.task(producer.stage_id as u32, task as u32),
            partition: partition as u32,
            consumer: consumer as u32,
        },
    };
    match reader.kind() {
        ExchangeKind::Shuffle => {
            // Every producer task wrote consumers × P hash partitions; this
            // consumer owns the P-wide slice starting at consumer_task × P.
            let width = reader.sources().len();
            (0..width)
                .map(|i| {
                    (0..producer.addresses.len())
                        .map(|task| source(task, consumer_task * width + i, 0))
                        .collect()
                })
                .collect()
        }
        kind => {
            let consumer = if kind == ExchangeKind::Broadcast {
                consumer_task
            } else {
                0
            };
            (0..producer.addresses.len())
                .flat_map(|task| (0..producer.partitions[task]).map(move |p| (task, p)))
                .map(|(task, p)| vec![source(task, p, consumer)])
                .collect()
        }
    }
}

/// Builds the plan of task `task` of `stage`.
///
/// `consumer_tasks` is the task count of the stage reading this one (it sets
/// the width of a shuffle); `resolve` gives each exchange reader its sources.
pub fn task_plan(
    stage: &Stage,
    task: usize,
    consumer_tasks: usize,
    resolve: &dyn Fn(&ExchangeReaderExec) -> Result<Vec<Vec<PartitionSource>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = rewrite(&stage.plan, task, stage.tasks, resolve)?;
    if stage.output != Some(ExchangeKind::Shuffle) {
        return Ok(plan);
    }
    let rep = plan.downcast_ref::<RepartitionExec>().ok_or_else(|| {
        DataFusionError::Internal(format!(
            "shuffle stage {} has no repartition at its root",
            stage.id
        ))
    })?;
    let Partitioning::Hash(exprs, width) = rep.partitioning() else {
        return Err(DataFusionError::Internal(format!(
            "shuffle stage {} does not hash-partition",
            stage.id
        )));
    };
    let widened = RepartitionExec::try_new(
        Arc::clone(rep.input()),
        Partitioning::Hash(exprs.clone(), width * consumer_tasks.max(1)),
    )?;
    Ok(Arc::new(if rep.preserve_order() {
        widened.with_preserve_order()
    } else {
        widened
    }))
}

fn rewrite(
    plan: &Arc<dyn ExecutionPlan>,
    task: usize,
    tasks: usize,
    resolve: &dyn Fn(&ExchangeReaderExec) -> Result<Vec<Vec<PartitionSource>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(reader) = plan.downcast_ref::<ExchangeReaderExec>() {
        return Ok(Arc::new(reader.resolved(resolve(reader)?)));
    }
    if let Some(config) = file_scan_config(plan) {
        if tasks <= 1 {
            return Ok(Arc::clone(plan));
        }
        let sliced = slice_scan(config, task, tasks);
        return Ok(DataSourceExec::from_data_source(sliced));
    }
    let children = plan.children();
    if children.is_empty() {
        return Ok(Arc::clone(plan));
    }
    let new_children = children
        .into_iter()
        .map(|c| rewrite(c, task, tasks, resolve))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(Arc::clone(plan), new_children)
}

/// How many pieces a scan can be split into: its files (or file ranges).
pub(crate) fn split_units(config: &FileScanConfig) -> usize {
    config.file_groups.iter().map(|g| g.len()).sum()
}

/// Bytes a file slice covers: its byte range, or the whole file.
pub(crate) fn file_bytes(f: &PartitionedFile) -> u64 {
    match &f.range {
        Some(r) => (r.end - r.start).max(0) as u64,
        None => f.object_meta.size,
    }
}

/// The part of a scan that task `task` of `tasks` reads. Files go to tasks
/// balanced by bytes (largest first, each to the lightest task); the task's
/// files are then spread over as many partitions as the scan had, so each
/// task keeps the parallelism DataFusion planned for.
fn slice_scan(config: &FileScanConfig, task: usize, tasks: usize) -> FileScanConfig {
    let width = config.file_groups.len().max(1);
    let groups: Vec<FileGroup> = if !config.output_ordering.is_empty() {
        // A group of an ordered scan is read file after file and promises
        // its order; its files do not overlap, so any subsequence of them
        // keeps that promise. Each task takes every `tasks`-th file of every
        // group: with time-ordered logs the newest files are spread over
        // all tasks, so `ORDER BY ts DESC LIMIT n` finds its bound in each
        // task's first file and prunes the rest (TopK's dynamic filter is
        // shared by the partitions of one task, not across tasks; with
        // consecutive runs the task holding the older half read several
        // files to fill a heap whose rows were all discarded).
        config
            .file_groups
            .iter()
            .map(|g| FileGroup::new(dealt_share(g.files(), task, tasks)))
            .collect()
    } else {
        let mut files: Vec<&PartitionedFile> =
            config.file_groups.iter().flat_map(|g| g.iter()).collect();
        // Deterministic: every task computes the same assignment.
        files.sort_by(|a, b| {
            file_bytes(b)
                .cmp(&file_bytes(a))
                .then_with(|| a.object_meta.location.cmp(&b.object_meta.location))
                .then_with(|| {
                    a.range
                        .as_ref()
                        .map(|r| r.start)
                        .cmp(&b.range.as_ref().map(|r| r.start))
                })
        });
        let owner = pack(&files, tasks);
        let mine: Vec<&PartitionedFile> = files
            .iter()
            .zip(owner)
            .filter(|(_, t)| *t == task)
            .map(|(f, _)| *f)
            .collect();
        let mut buckets: Vec<Vec<PartitionedFile>> = vec![Vec::new(); width];
        for (file, bucket) in mine.iter().zip(pack(&mine, width)) {
            buckets[bucket].push((*file).clone());
        }
        buckets.into_iter().map(FileGroup::new).collect()
    };
    FileScanConfigBuilder::from(config.clone())
        .with_file_groups(groups)
        .build()
}

/// Task `task`'s share of `files` when they are dealt to `tasks` tasks in
/// turn: files `task`, `task + tasks`, ..., in their order.
fn dealt_share(files: &[PartitionedFile], task: usize, tasks: usize) -> Vec<PartitionedFile> {
    files
        .iter()
        .skip(task)
        .step_by(tasks.max(1))
        .cloned()
        .collect()
}

/// Greedy bin packing by bytes: the bin of each file, in order (files
/// should come largest first). Deterministic, so every task agrees.
fn pack(files: &[&PartitionedFile], bins: usize) -> Vec<usize> {
    let mut load = vec![0u64; bins.max(1)];
    files
        .iter()
        .map(|f| {
            let (bin, _) = load
                .iter()
                .enumerate()
                .min_by_key(|(i, l)| (**l, *i))
                .expect("at least one bin");
            load[bin] += file_bytes(f).max(1);
            bin
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion::datasource::listing::PartitionedFile;

    use super::dealt_share;

    #[test]
    fn ordered_groups_are_dealt_so_that_every_file_is_read_once_in_order() {
        let files: Vec<PartitionedFile> = (0..10)
            .map(|i| PartitionedFile::new(format!("f{i:02}"), 1))
            .collect();
        let names = |fs: &[PartitionedFile]| -> Vec<String> {
            fs.iter()
                .map(|f| f.object_meta.location.to_string())
                .collect()
        };
        for tasks in 1..=12 {
            let mut seen: Vec<String> = Vec::new();
            for task in 0..tasks {
                let share = names(&dealt_share(&files, task, tasks));
                // Each share keeps the group's order.
                let mut sorted = share.clone();
                sorted.sort();
                assert_eq!(share, sorted, "{tasks} tasks, task {task}");
                seen.extend(share);
            }
            seen.sort();
            assert_eq!(seen, names(&files), "{tasks} tasks: every file once");
        }
        // The first files of the group (the newest, in a descending scan)
        // go one to each task.
        assert_eq!(names(&dealt_share(&files, 1, 3)), ["f01", "f04", "f07"]);
    }
}
