//! Flight's session options: `SetSessionOptions`, `GetSessionOptions` and
//! `CloseSession`, the actions a client (ADBC's
//! `adbc.flight.sql.session.option.*`) uses to change, read and end its
//! session's settings without SQL. A session option is a setting `SET` can
//! change (`datafusion.*`, `hayate.*`). The messages are Flight's
//! (`Flight.proto`); arrow-flight 59 does not generate them.

use std::collections::HashMap;

use datafusion::config::ConfigExtension;
use datafusion::config::ExtensionOptions;
use datafusion::logical_expr::{LogicalPlan, SetVariable, Statement};
use datafusion::prelude::SessionContext;
use hayate_planner::HayateOptions;

pub const SET_SESSION_OPTIONS: &str = "SetSessionOptions";
pub const GET_SESSION_OPTIONS: &str = "GetSessionOptions";
pub const CLOSE_SESSION: &str = "CloseSession";

#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionOptionValue {
    #[prost(oneof = "OptionValue", tags = "1, 2, 3, 4, 5")]
    pub option_value: Option<OptionValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum OptionValue {
    #[prost(string, tag = "1")]
    StringValue(String),
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    #[prost(sfixed64, tag = "3")]
    Int64Value(i64),
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    #[prost(message, tag = "5")]
    StringListValue(StringListValue),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StringListValue {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionsRequest {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub errors: HashMap<String, SetSessionOptionsError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSessionOptionsError {
    #[prost(enumeration = "SetSessionOptionsErrorValue", tag = "1")]
    pub value: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum SetSessionOptionsErrorValue {
    Unspecified = 0,
    InvalidName = 1,
    InvalidValue = 2,
    Error = 3,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSessionOptionsResult {
    #[prost(map = "string, message", tag = "1")]
    pub session_options: HashMap<String, SessionOptionValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CloseSessionResult {
    #[prost(enumeration = "CloseSessionStatus", tag = "1")]
    pub status: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CloseSessionStatus {
    Unspecified = 0,
    Closed = 1,
    Closing = 2,
    NotCloseable = 3,
}

/// Sets each option in `ctx`'s settings exactly as `SET name = value`
/// does (functions that read a setting, such as `now()` and the time zone,
/// follow it); the options that could not be set, and why.
pub async fn set_options(
    ctx: &SessionContext,
    request: SetSessionOptionsRequest,
) -> SetSessionOptionsResult {
    let known = setting_names(ctx);
    let mut errors = HashMap::new();
    for (name, value) in request.session_options {
        let error = match (known.contains(&name), setting_text(value)) {
            (false, _) => Some(SetSessionOptionsErrorValue::InvalidName),
            (true, None) => Some(SetSessionOptionsErrorValue::InvalidValue),
            (true, Some(value)) => {
                let set = LogicalPlan::Statement(Statement::SetVariable(SetVariable {
                    variable: name.clone(),
                    value,
                }));
                ctx.execute_logical_plan(set)
                    .await
                    .err()
                    .map(|_| SetSessionOptionsErrorValue::InvalidValue)
            }
        };
        if let Some(error) = error {
            errors.insert(
                name,
                SetSessionOptionsError {
                    value: error as i32,
                },
            );
        }
    }
    SetSessionOptionsResult { errors }
}

/// Every setting of `ctx` that has a value, as text, by the name `SET`
/// knows it by.
pub fn get_options(ctx: &SessionContext) -> GetSessionOptionsResult {
    let session_options = settings(ctx)
        .into_iter()
        .filter_map(|(name, value)| {
            let value = SessionOptionValue {
                option_value: Some(OptionValue::StringValue(value?)),
            };
            Some((name, value))
        })
        .collect();
    GetSessionOptionsResult { session_options }
}

fn setting_names(ctx: &SessionContext) -> Vec<String> {
    settings(ctx).into_iter().map(|(name, _)| name).collect()
}

/// `ctx`'s settings and their values. DataFusion lists an extension's
/// settings without their prefix: Hayate's get `hayate.` back.
fn settings(ctx: &SessionContext) -> Vec<(String, Option<String>)> {
    let ours: Vec<String> = HayateOptions::default()
        .entries()
        .into_iter()
        .map(|e| e.key)
        .collect();
    let state = ctx.state_ref();
    let state = state.read();
    state
        .config_options()
        .entries()
        .into_iter()
        .map(|entry| {
            let name = if ours.contains(&entry.key) {
                format!("{}.{}", HayateOptions::PREFIX, entry.key)
            } else {
                entry.key
            };
            (name, entry.value)
        })
        .collect()
}

/// A setting's text for an option's value; a list has none (no setting
/// takes one).
fn setting_text(value: SessionOptionValue) -> Option<String> {
    match value.option_value? {
        OptionValue::StringValue(s) => Some(s),
        OptionValue::BoolValue(b) => Some(b.to_string()),
        OptionValue::Int64Value(i) => Some(i.to_string()),
        OptionValue::DoubleValue(d) => Some(d.to_string()),
        OptionValue::StringListValue(_) => None,
    }
}
