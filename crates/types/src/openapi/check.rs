//! Checks a JSON value against a schema of the OpenAPI document: the part of JSON Schema
//! 2020-12 the document uses (`$ref` to its components, `type`, `enum`, `const`,
//! `properties`, `required`, `additionalProperties`, `propertyNames`, `items`,
//! `prefixItems`, `minItems`, `maxItems`, `allOf`, `anyOf`, `oneOf`, `minimum`, `maximum`,
//! `minLength`, `maxLength`).
//!
//! Two choices differ from a general validator, on purpose (ADR 0031): an object schema
//! without `additionalProperties` is closed (a property the schema does not name fails,
//! counting the properties of its `allOf` siblings), so a field a response gains without
//! its type's schema is caught; and a keyword the check does not know fails, so no part of a
//! schema goes unchecked silently. `format` and `pattern` are read as annotations.

use super::document;
use crate::routes::RouteDef;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Where a value departs from its schema, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct Mismatch {
    /// The JSON path of the offending value (`$` is the root).
    pub at: String,
    pub reason: String,
}

/// Deepest nesting of schemas followed (the document's types are far shallower).
const MAX_DEPTH: usize = 128;

/// Keywords that describe and do not constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "examples",
    "example",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "format",
    "pattern",
    "contentMediaType",
    "$schema",
];

const OBJECT_KEYWORDS: [&str; 4] =
    ["properties", "required", "additionalProperties", "propertyNames"];
const ARRAY_KEYWORDS: [&str; 4] = ["items", "prefixItems", "minItems", "maxItems"];

/// Checks `value` against `schema`, whose `$ref`s point into `doc`'s components.
pub fn check(doc: &Value, schema: &Value, value: &Value) -> Result<(), Mismatch> {
    Checker { doc }.check(schema, value, "$", &BTreeSet::new(), 0)
}

/// Checks one answer of `route`: that the document lists its status for the route, that
/// its media type is the documented one, and, for JSON, that the body matches the schema.
pub fn check_response(
    route: &RouteDef,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<(), Mismatch> {
    let doc = document();
    let at = format!("{route} answered {status}");
    let mismatch = |reason: String| Mismatch { at: at.clone(), reason };
    let response = doc["paths"][route.path][route.method.lowercase()]["responses"]
        .get(status.to_string())
        .ok_or_else(|| mismatch("the document lists no such status for the route".into()))?;
    let Some(contents) = response["content"].as_object() else {
        return Ok(());
    };
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let Some((_, content)) = contents.iter().find(|(m, _)| *m == "*/*" || *m == media) else {
        let listed: Vec<&String> = contents.keys().collect();
        return Err(mismatch(format!("media type {media:?}, the document lists {listed:?}")));
    };
    if media != "application/json" {
        return Ok(());
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| mismatch(format!("the body is not JSON: {e}")))?;
    check(doc, &content["schema"], &value)
        .map_err(|m| Mismatch { at: format!("{at}, at {}", m.at), reason: m.reason })
}

struct Checker<'a> {
    doc: &'a Value,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    let actual = type_name(v);
    actual == t
        || (t == "number" && actual == "integer")
        || (t == "integer" && v.as_f64().is_some_and(|f| f.fract() == 0.0))
}

impl<'a> Checker<'a> {
    fn resolve(&self, reference: &str, at: &str) -> Result<&'a Value, Mismatch> {
        reference
            .strip_prefix("#/components/schemas/")
            .and_then(|name| self.doc["components"]["schemas"].get(name))
            .ok_or_else(|| Mismatch {
                at: at.to_string(),
                reason: format!("the reference {reference} leads nowhere"),
            })
    }

    /// The property names a schema declares, following `$ref` and `allOf`.
    fn declared(&self, schema: &'a Value, out: &mut BTreeSet<String>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str)
            && let Ok(target) = self.resolve(r, "")
        {
            self.declared(target, out, depth + 1);
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            out.extend(props.keys().cloned());
        }
        for branch in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.declared(branch, out, depth + 1);
        }
    }

    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        at: &str,
        also_declared: &BTreeSet<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let fail = |reason: String| Err(Mismatch { at: at.to_string(), reason });
        if depth > MAX_DEPTH {
            return fail("schemas nest too deep".into());
        }
        let obj = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail("no value is allowed here".into()),
            Value::Object(o) => o,
            other => return fail(format!("the schema {other} is not a schema")),
        };
        // Properties the sibling branches of an `allOf` declare count as declared here.
        let mut declared = also_declared.clone();
        if let Some(branches) = obj.get("allOf").and_then(Value::as_array) {
            for b in branches {
                self.declared(b, &mut declared, depth);
            }
        }
        for (key, arg) in obj {
            match key.as_str() {
                "$ref" => {
                    let target = self.resolve(arg.as_str().unwrap_or_default(), at)?;
                    self.check(target, value, at, &declared, depth + 1)?;
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        return fail(format!("{} where the schema wants {arg}", type_name(value)));
                    }
                }
                "enum" => {
                    if !arg.as_array().is_some_and(|a| a.contains(value)) {
                        return fail(format!("{value} is not one of {arg}"));
                    }
                }
                "const" => {
                    if arg != value {
                        return fail(format!("{value} is not {arg}"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(bound), Some(v)) = (arg.as_f64(), value.as_f64()) {
                        let below = key == "minimum" && v < bound;
                        if below || (key == "maximum" && v > bound) {
                            return fail(format!("{value} is past the {key} {arg}"));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let (Some(n), Some(s)) = (arg.as_u64(), value.as_str()) {
                        let len = s.chars().count() as u64;
                        if (key == "minLength" && len < n) || (key == "maxLength" && len > n) {
                            return fail(format!("a string of {len} characters; {key} is {n}"));
                        }
                    }
                }
                "properties"
                | "required"
                | "additionalProperties"
                | "propertyNames"
                | "items"
                | "prefixItems"
                | "minItems"
                | "maxItems" => {} // below, once
                "allOf" => {
                    for b in arg.as_array().into_iter().flatten() {
                        self.check(b, value, at, &declared, depth + 1)?;
                    }
                }
                "anyOf" | "oneOf" => {
                    let branches = arg.as_array().map(Vec::as_slice).unwrap_or_default();
                    let mut passed = 0;
                    let mut last_err = None;
                    for b in branches {
                        match self.check(b, value, at, &declared, depth + 1) {
                            Ok(()) => passed += 1,
                            Err(e) => last_err = Some(e),
                        }
                    }
                    if passed == 0 {
                        let why = last_err.map(|e| e.to_string()).unwrap_or_default();
                        return fail(format!("matches none of the {key} branches (last: {why})"));
                    }
                    if key == "oneOf" && passed > 1 {
                        return fail(format!("matches {passed} of the oneOf branches"));
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                k => return fail(format!("the check does not know the keyword {k:?}")),
            }
        }
        match value {
            Value::Object(map) if OBJECT_KEYWORDS.iter().any(|k| obj.contains_key(*k)) => {
                self.check_object(obj, map, at, &declared, depth)
            }
            Value::Array(items) if ARRAY_KEYWORDS.iter().any(|k| obj.contains_key(*k)) => {
                self.check_array(obj, items, at, depth)
            }
            _ => Ok(()),
        }
    }

    fn check_object(
        &self,
        schema: &'a Map<String, Value>,
        map: &Map<String, Value>,
        at: &str,
        declared: &BTreeSet<String>,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let fail = |reason: String| Err(Mismatch { at: at.to_string(), reason });
        let props = schema.get("properties").and_then(Value::as_object);
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = name.as_str()
                && !map.contains_key(name)
            {
                return fail(format!("the required property {name:?} is missing"));
            }
        }
        for (name, v) in map {
            let here = format!("{at}.{name}");
            if let Some(names) = schema.get("propertyNames") {
                self.check(
                    names,
                    &Value::String(name.clone()),
                    &here,
                    &BTreeSet::new(),
                    depth + 1,
                )?;
            }
            if let Some(p) = props.and_then(|p| p.get(name)) {
                self.check(p, v, &here, &BTreeSet::new(), depth + 1)?;
                continue;
            }
            match schema.get("additionalProperties") {
                Some(extra) => self.check(extra, v, &here, &BTreeSet::new(), depth + 1)?,
                None if declared.contains(name) => {}
                None => return fail(format!("the property {name:?} is not in the schema")),
            }
        }
        Ok(())
    }

    fn check_array(
        &self,
        schema: &'a Map<String, Value>,
        items: &[Value],
        at: &str,
        depth: usize,
    ) -> Result<(), Mismatch> {
        let len = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && len < min
        {
            return Err(Mismatch { at: at.into(), reason: format!("{len} items; at least {min}") });
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && len > max
        {
            return Err(Mismatch { at: at.into(), reason: format!("{len} items; at most {max}") });
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        let none = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            if let Some(s) = prefix.and_then(|p| p.get(i)).or_else(|| schema.get("items")) {
                self.check(s, item, &here, &none, depth + 1)?;
            }
        }
        Ok(())
    }
}
