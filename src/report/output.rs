//! A report table and its three renderings (DESIGN §8): aligned text with a footer,
//! CSV with a header row, and JSON `{"rows": [...], "skipped": {...}}`.
//!
//! CSV and JSON carry full precision (they are read by programs); the text table rounds
//! for people.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::recording::skipped::Skipped;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A figure with the decimals the text table shows; `None` when undefined.
    Num(Option<f64>, usize),
    /// Nothing in this column for this row (JSON null).
    Missing,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

impl Cell {
    fn human(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(Some(x), d) => format!("{x:.d$}"),
            Cell::Num(None, _) | Cell::Missing => "-".into(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Text(s) if s.contains([',', '"', '\n']) => {
                format!("\"{}\"", s.replace('"', "\"\""))
            }
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(Some(x), _) => precise(*x),
            Cell::Num(None, _) | Cell::Missing => String::new(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(n) => json!(n),
            Cell::Num(Some(x), _) => json!(x),
            Cell::Num(None, _) | Cell::Missing => Value::Null,
        }
    }
}

/// Shortest text that reads back as the same f64.
fn precise(x: f64) -> String {
    let mut buf = ryu::Buffer::new();
    let s = buf.format(x);
    s.strip_suffix(".0").unwrap_or(s).to_owned()
}

/// Column names from literals.
pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Table {
    pub fn render(&self, format: Format, skipped: &Skipped) -> String {
        match format {
            Format::Table => self.text(skipped),
            Format::Csv => self.csv(),
            Format::Json => self.json(skipped),
        }
    }

    fn text(&self, skipped: &Skipped) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::human).collect())
            .collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, items: &mut dyn Iterator<Item = (usize, String, bool)>| {
            let mut parts = Vec::new();
            for (w, s, right) in items {
                parts.push(if right {
                    format!("{s:>w$}")
                } else {
                    format!("{s:<w$}")
                });
            }
            let _ = writeln!(out, "{}", parts.join("  ").trim_end());
        };
        // A column of numbers is right-aligned, its header and empty cells too; a column
        // of text is left-aligned (a table without rows: the first column only).
        let right: Vec<bool> = (0..self.columns.len())
            .map(|i| {
                if self.rows.is_empty() {
                    return i > 0;
                }
                self.rows
                    .iter()
                    .any(|row| matches!(row[i], Cell::Int(_) | Cell::Num(..)))
            })
            .collect();
        line(
            &mut out,
            &mut self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (widths[i], c.clone(), right[i])),
        );
        for r in &cells {
            line(
                &mut out,
                &mut r
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (widths[i], s.clone(), right[i])),
            );
        }
        let _ = writeln!(out, "-- {} rows; {skipped}", self.rows.len());
        for example in &skipped.examples {
            let _ = writeln!(out, "--   e.g. {example}");
        }
        for (path, why) in &skipped.damaged_files {
            let _ = writeln!(out, "--   {}: {why}", path.display());
        }
        out
    }

    fn csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::csv).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    fn json(&self, skipped: &Skipped) -> String {
        let mut s = serde_json::to_string_pretty(&self.json_doc(skipped)).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The JSON document `{"rows": [...], "skipped": {...}}`, for a caller that adds to it.
    pub fn json_doc(&self, skipped: &Skipped) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let obj: Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.clone(), v.json()))
                    .collect();
                Value::Object(obj)
            })
            .collect();
        let by_reason: Map<String, Value> = skipped
            .by_reason
            .iter()
            .map(|(r, n)| (r.name().to_owned(), json!(n)))
            .collect();
        json!({
            "rows": rows,
            "skipped": {"total": skipped.total(), "by_reason": by_reason},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            columns: names(&["isp", "distinct_ips", "share"]),
            rows: vec![
                vec![
                    Cell::Text("PCCW".into()),
                    Cell::Int(2),
                    Cell::Num(Some(2.0 / 3.0), 4),
                ],
                vec![Cell::Text("a,b".into()), Cell::Int(1), Cell::Num(None, 4)],
            ],
        }
    }

    #[test]
    fn csv_has_the_header_and_full_precision() {
        let csv = sample().render(Format::Csv, &Skipped::default());
        assert_eq!(
            csv,
            "isp,distinct_ips,share\nPCCW,2,0.6666666666666666\n\"a,b\",1,\n"
        );
    }

    #[test]
    fn json_rows_use_the_column_names() {
        let json = sample().render(Format::Json, &Skipped::default());
        let v: Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["rows"][0]["distinct_ips"], 2);
        assert_eq!(v["rows"][1]["share"], Value::Null);
        assert_eq!(v["skipped"]["total"], 0);
    }

    #[test]
    fn text_aligns_and_ends_with_the_skipped_footer() {
        let text = sample().render(Format::Table, &Skipped::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "isp   distinct_ips   share");
        assert_eq!(lines[1], "PCCW             2  0.6667");
        assert_eq!(lines[2], "a,b              1       -");
        assert!(lines[3].starts_with("-- 2 rows; 0 lines skipped"));
    }
}
