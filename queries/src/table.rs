//! Query results as text for a terminal: aligned columns, numbers to the
//! right, cells cut with `…` so that a line fits the width given.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// `s` cut to `width` characters, the last one an ellipsis when cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width.saturating_sub(1)).chain(['…']).collect()
    }
}

/// The longest a cell is shown before it is cut, and the narrowest a column
/// is squeezed to when the terminal is too narrow.
const MAX_CELL: usize = 60;
const MIN_COLUMN: usize = 6;

/// Aligned columns (numbers to the right), a rule under the header and the
/// row count; cells cut with `…` so a line fits `width` when one is given.
pub fn table(schema: &SchemaRef, batches: &[RecordBatch], width: Option<usize>) -> Result<String, ArrowError> {
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let numeric: Vec<bool> = schema.fields().iter().map(|f| f.data_type().is_numeric()).collect();
    let options = FormatOptions::default().with_null("");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(r).to_string().replace(['\n', '\t'], " ")).collect());
        }
    }
    let chars = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| chars(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(chars(cell).min(MAX_CELL));
        }
    }
    if let Some(limit) = width {
        let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
        while total(&widths) > limit {
            let (i, &widest) = widths.iter().enumerate().max_by_key(|(_, w)| **w).expect("a column");
            if widest <= MIN_COLUMN {
                break;
            }
            widths[i] -= 1;
        }
    }
    let line = |cells: &[String], align_numbers: bool| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&numeric)
            .map(|((c, &w), &num)| {
                let c = cut(c, w);
                if num && align_numbers { format!("{c:>w$}") } else { format!("{c:<w$}") }
            })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&headers, false);
    out += &line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(), false);
    for row in &rows {
        out += &line(row, true);
    }
    out += &format!("({} row{})\n", rows.len(), if rows.len() == 1 { "" } else { "s" });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("country", DataType::Utf8, true),
            Field::new("failures", DataType::Int64, false),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("GB"), None, Some("a very long reason text that goes on")])),
                Arc::new(Int64Array::from(vec![7, 12345, 0])),
            ],
        )
        .unwrap();
        (schema, b)
    }

    #[test]
    fn a_table_aligns_numbers_right_and_counts_rows() {
        let (schema, b) = batch();
        let t = table(&schema, &[b], None).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        // The column is as wide as its longest cell (36 characters).
        assert_eq!(lines[0], format!("{:<36}  failures", "country"));
        assert_eq!(lines[1], format!("{}  {}", "-".repeat(36), "-".repeat(8)));
        assert_eq!(lines[2], format!("{:<36}  {:>8}", "GB", 7));
        assert_eq!(lines[3], format!("{:<36}  {:>8}", "", 12345));
        assert_eq!(lines.last(), Some(&"(3 rows)"));
    }

    #[test]
    fn a_table_is_cut_to_the_width_given() {
        let (schema, b) = batch();
        let t = table(&schema, &[b], Some(24)).unwrap();
        assert!(t.lines().all(|l| l.chars().count() <= 24), "{t}");
        // 14 + 2 + 8: the widest column gave way, cut with an ellipsis.
        assert!(t.contains("a very long r…  "), "{t}");
        let empty = table(&schema, &[], Some(24)).unwrap();
        assert_eq!(empty.lines().last(), Some("(0 rows)"));
    }
}
