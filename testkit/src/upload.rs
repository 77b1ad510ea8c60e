//! Copying a local directory tree into an object store.

use std::path::Path as FsPath;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// Uploads every file under `dir` to `prefix/<relative path>`; returns the
/// number of files.
pub async fn upload_dir(
    store: &dyn ObjectStore,
    dir: &FsPath,
    prefix: &str,
) -> std::io::Result<usize> {
    let files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let uploads = files.iter().map(|file| async move {
        let relative = file.strip_prefix(dir).expect("under dir");
        let key = Path::from(format!(
            "{}/{}",
            prefix.trim_matches('/'),
            relative.to_string_lossy()
        ));
        let bytes = tokio::fs::read(file).await?;
        store
            .put(&key, bytes.into())
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(())
    });
    let results: Vec<_> = futures::stream::iter(uploads)
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(files.len())
}
