//! A real browser for tests of the web UI: Debian's `chromium`, headless,
//! loading a page, running its scripts and handing back the DOM a person
//! would see.

use std::process::Command;
use std::time::Duration;

/// The browser to run: `$HAYATE_CHROMIUM`, else `chromium` on the PATH.
fn browser() -> Option<String> {
    if let Ok(path) = std::env::var("HAYATE_CHROMIUM") {
        return Some(path);
    }
    let found = Command::new("chromium").arg("--version").output();
    found
        .is_ok_and(|o| o.status.success())
        .then(|| "chromium".to_string())
}

/// Whether a browser is here. Without one a UI test cannot run: it fails
/// when `HAYATE_REQUIRE_BROWSER` is set (CI installs chromium), and is
/// skipped with a note otherwise.
pub fn browser_available() -> bool {
    match browser() {
        Some(_) => true,
        None if std::env::var_os("HAYATE_REQUIRE_BROWSER").is_some() => {
            panic!("no chromium: install Debian's chromium or set HAYATE_CHROMIUM")
        }
        None => {
            eprintln!("skipped: no chromium (install Debian's chromium to run the web UI tests)");
            false
        }
    }
}

/// The DOM of `url` once its scripts have run for `settle` of the page's
/// own (virtual) time.
pub fn page_dom(url: &str, settle: Duration) -> String {
    let browser = browser().expect("a browser (check browser_available first)");
    let profile = tempfile::tempdir().expect("a profile directory");
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={}", settle.as_millis()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
