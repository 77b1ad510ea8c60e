//! The SQL functions every Hayate process knows beyond DataFusion's own:
//! the JSON functions (`json_get`, `json_get_str`, `json_get_int`,
//! `json_contains`, `json_as_text`, ...) and the `->` and `->>` operators,
//! from `datafusion-functions-json`; and `matches(text, 'a AND b OR c')`,
//! the token search the search index answers. The coordinator plans with them and
//! every worker decodes and runs plan fragments with the same set, so a
//! fragment that names one runs wherever it is placed.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionState;

/// `state` with Hayate's functions, operators and their rewrites added.
pub fn with_hayate_functions(mut state: SessionState) -> Result<SessionState> {
    datafusion_functions_json::register_all(&mut state)?;
    state.register_udf(Arc::new(hayate_search_index::matches_udf()))?;
    Ok(state)
}
