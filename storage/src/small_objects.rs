//! Small files read in one GET. A Parquet scan asks for a file's tail
//! first (its footer; DataFusion asks for the last 512 KiB) and then for
//! the column chunks it needs: two GETs per file. A log shipper's file is a
//! few KiB, so the first GET has already returned all of it. A task keeps
//! such whole objects for a while and answers the later reads of them from
//! memory: over thousands of small files that halves the requests.
//!
//! Only objects a GET returned whole are kept, and only for one query's or
//! task's runtime (seconds), within a byte budget, oldest out first. A read
//! with conditions (`If-Match`, a version) always goes to the store.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, Result,
};
use parking_lot::Mutex;
use url::Url;

use crate::registry::store_key;

/// Objects up to this size are kept when a GET returns them whole.
const MAX_OBJECT_BYTES: u64 = 1024 * 1024;
/// What one runtime keeps at most.
const BUDGET_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
struct Whole {
    bytes: Bytes,
    meta: ObjectMeta,
    attributes: Attributes,
}

/// The whole objects one runtime keeps, by store and path.
#[derive(Default)]
struct Kept {
    objects: HashMap<(String, Path), Whole>,
    order: VecDeque<(String, Path)>,
    bytes: usize,
}

impl Kept {
    fn keep(&mut self, key: (String, Path), whole: Whole) {
        let size = whole.bytes.len();
        if size > BUDGET_BYTES || self.objects.contains_key(&key) {
            return;
        }
        while self.bytes + size > BUDGET_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.objects.remove(&oldest) {
                self.bytes -= gone.bytes.len();
            }
        }
        self.bytes += size;
        self.order.push_back(key.clone());
        self.objects.insert(key, whole);
    }
}

/// The small objects one query's or task's runtime keeps (see the module
/// documentation).
#[derive(Default)]
pub struct SmallObjects {
    kept: Arc<Mutex<Kept>>,
}

impl SmallObjects {
    /// `inner` (the store of `url`), answering from what this runtime keeps.
    pub fn store(&self, url: &Url, inner: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(SmallObjectsStore {
            inner,
            store: store_key(url),
            kept: Arc::clone(&self.kept),
        })
    }
}

#[derive(Debug)]
struct SmallObjectsStore {
    inner: Arc<dyn ObjectStore>,
    /// Which store it is, for the keys of what is kept.
    store: String,
    kept: Arc<Mutex<Kept>>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} objects, {} bytes", self.objects.len(), self.bytes)
    }
}

impl std::fmt::Display for SmallObjectsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmallObjects({})", self.inner)
    }
}

/// Whether `options` asks for nothing but (a range of) the current object.
fn plain(options: &GetOptions) -> bool {
    !options.head
        && options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.version.is_none()
}

/// The bytes of `range` within an object of `len` bytes, as a store would
/// answer; `None` where a store would answer an error (left to it).
fn resolve(range: Option<&GetRange>, len: u64) -> Option<Range<u64>> {
    let r = match range {
        None => 0..len,
        Some(GetRange::Bounded(r)) if r.start < r.end && r.start < len => r.start..r.end.min(len),
        Some(GetRange::Offset(o)) if *o < len => *o..len,
        Some(GetRange::Suffix(n)) => len.saturating_sub(*n)..len,
        _ => return None,
    };
    Some(r)
}

fn stream_of(bytes: Bytes) -> GetResultPayload {
    GetResultPayload::Stream(Box::pin(futures::stream::once(async move { Ok(bytes) })))
}

impl SmallObjectsStore {
    fn key(&self, location: &Path) -> (String, Path) {
        (self.store.clone(), location.clone())
    }

    fn whole(&self, location: &Path) -> Option<Whole> {
        self.kept.lock().objects.get(&self.key(location)).cloned()
    }
}

#[async_trait]
impl ObjectStore for SmallObjectsStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if !plain(&options) {
            return self.inner.get_opts(location, options).await;
        }
        if let Some(whole) = self.whole(location)
            && let Some(range) = resolve(options.range.as_ref(), whole.meta.size)
        {
            let bytes = whole.bytes.slice(range.start as usize..range.end as usize);
            return Ok(GetResult {
                payload: stream_of(bytes),
                meta: whole.meta,
                range,
                attributes: whole.attributes,
            });
        }
        let result = self.inner.get_opts(location, options).await?;
        let complete = result.range == (0..result.meta.size);
        if !complete || result.meta.size > MAX_OBJECT_BYTES {
            return Ok(result);
        }
        let (meta, range, attributes) = (
            result.meta.clone(),
            result.range.clone(),
            result.attributes.clone(),
        );
        let bytes = result.bytes().await?;
        self.kept.lock().keep(
            self.key(location),
            Whole {
                bytes: bytes.clone(),
                meta: meta.clone(),
                attributes: attributes.clone(),
            },
        );
        Ok(GetResult {
            payload: stream_of(bytes),
            meta,
            range,
            attributes,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        if let Some(whole) = self.whole(location) {
            let len = whole.bytes.len() as u64;
            if ranges.iter().all(|r| r.start <= r.end && r.end <= len) {
                return Ok(ranges
                    .iter()
                    .map(|r| whole.bytes.slice(r.start as usize..r.end as usize))
                    .collect());
            }
        }
        // DataFusion reads a footer as one range from the end, which for a
        // file smaller than its 512 KiB hint is the whole file from 0: ask
        // for it with a GET that tells the object's size, and keep it if
        // it was all of it.
        if let [range] = ranges
            && range.start == 0
            && range.end > 0
            && range.end <= MAX_OBJECT_BYTES
        {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                ..GetOptions::default()
            };
            let result = self.get_opts(location, options).await?;
            if result.range == *range {
                return Ok(vec![result.bytes().await?]);
            }
        }
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    use crate::{IoCounters, counting_runtime};

    /// Files of a few hundred bytes, as a shipper writes (many of them).
    fn write_small_files(dir: &std::path::Path, files: i64) {
        let schema =
            std::sync::Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        for f in 0..files {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![std::sync::Arc::new(Int64Array::from_iter_values(
                    (0..10).map(|i| f * 10 + i),
                ))],
            )
            .unwrap();
            let file = std::fs::File::create(dir.join(format!("part-{f}.parquet"))).unwrap();
            let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
    }

    #[tokio::test]
    async fn a_small_file_is_read_in_one_get() {
        let dir = tempfile::tempdir().unwrap();
        write_small_files(dir.path(), 6);
        let base = SessionContext::new().runtime_env();
        let counters = std::sync::Arc::new(IoCounters::default());
        let runtime = counting_runtime(&base, &counters).unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        ctx.register_parquet(
            "t",
            dir.path().to_str().unwrap(),
            ParquetReadOptions::default(),
        )
        .await
        .unwrap();
        let batches = ctx
            .sql("SELECT sum(x) FROM t WHERE x % 2 = 0")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sum = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(sum, (0..60).filter(|x| x % 2 == 0).sum::<i64>());
        // The footer's read (DataFusion asks for the file's last 512 KiB)
        // returned each file whole; its column chunk came from memory.
        assert_eq!(counters.get_requests.load(Ordering::Relaxed), 6);
    }

    #[tokio::test]
    async fn only_objects_returned_whole_are_kept() {
        use object_store::{GetOptions, GetRange, ObjectStoreExt, PutPayload};
        let dir = tempfile::tempdir().unwrap();
        let base = SessionContext::new().runtime_env();
        let counters = std::sync::Arc::new(IoCounters::default());
        let runtime = counting_runtime(&base, &counters).unwrap();
        let url = datafusion::datasource::listing::ListingTableUrl::parse("file:///").unwrap();
        let store = runtime.object_store(&url).unwrap();
        let path = |name: &str| {
            object_store::path::Path::from_absolute_path(dir.path().join(name)).unwrap()
        };
        let small: Vec<u8> = (0..100u8).collect();
        store
            .put(&path("small"), PutPayload::from(small.clone()))
            .await
            .unwrap();
        let gets = || counters.get_requests.load(Ordering::Relaxed);
        // Part of it: not kept.
        let head = store.get_range(&path("small"), 0..10).await.unwrap();
        assert_eq!(head.as_ref(), &small[..10]);
        store.get_range(&path("small"), 10..20).await.unwrap();
        assert_eq!(gets(), 2);
        // All of it (a suffix longer than the object): kept, and every
        // later range comes from memory, exactly as the store would give it.
        let options = GetOptions {
            range: Some(GetRange::Suffix(1000)),
            ..Default::default()
        };
        let whole = store.get_opts(&path("small"), options).await.unwrap();
        assert_eq!(whole.range, 0..100);
        assert_eq!(whole.bytes().await.unwrap().as_ref(), &small[..]);
        let parts = store
            .get_ranges(&path("small"), &[5..9, 90..100])
            .await
            .unwrap();
        assert_eq!(parts[0].as_ref(), &small[5..9]);
        assert_eq!(parts[1].as_ref(), &small[90..100]);
        let tail = store.get_range(&path("small"), 95..200).await.unwrap();
        assert_eq!(tail.as_ref(), &small[95..]);
        assert_eq!(gets(), 3);
        // Beyond its end is the store's error to give.
        assert!(store.get_range(&path("small"), 200..300).await.is_err());
    }
}
