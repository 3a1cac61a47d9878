//! The report: every figure with its unit, how it was summarised, and the target
//! next to it; printed as a table and written as JSON.

use serde::Serialize;
use serde_json::{Map, Value};
use std::{fmt::Write as _, path::Path};

/// The table's sections, in the order they are printed.
const SECTIONS: [&str; 6] = [
    "anchors",
    "ingest",
    "end to end",
    "query",
    "memory",
    "ratios",
];

/// What a figure counts, which decides how it is printed.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    PerSecond,
    Millis,
    Megabytes,
    /// A ratio of two figures of this run.
    Ratio,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{} /s", thousands(value)),
            Unit::Millis if value >= 100.0 => format!("{value:.0} ms"),
            Unit::Millis => format!("{value:.2} ms"),
            Unit::Megabytes => format!("{value:.1} MB"),
            Unit::Ratio => format!("{value:.2}x"),
        }
    }
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

/// One of the targets.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "limit", rename_all = "snake_case")]
pub enum Target {
    AtLeast(f64),
    Below(f64),
    AtMost(f64),
}

impl Target {
    fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtLeast(limit) => value >= limit,
            Target::Below(limit) => value < limit,
            Target::AtMost(limit) => value <= limit,
        }
    }

    fn describe(self, unit: Unit) -> String {
        match self {
            Target::AtLeast(limit) => format!(">= {}", unit.format(limit)),
            Target::Below(limit) => format!("< {}", unit.format(limit)),
            Target::AtMost(limit) => format!("<= {}", unit.format(limit)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub section: &'static str,
    pub name: String,
    /// `None` when the scenario could not measure it (see `problems`).
    pub value: Option<f64>,
    pub unit: Unit,
    /// How the value was obtained: "median of 3 runs: ...", sample counts, caveats.
    pub note: String,
    pub target: Option<Target>,
    pub met: Option<bool>,
}

impl Figure {
    /// Sets the target for this figure and whether this run met it.
    pub fn target(&mut self, target: Target) -> &mut Self {
        self.target = Some(target);
        self.met = self.value.map(|value| target.met_by(value));
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub scenario: &'static str,
    pub error: String,
}

/// Everything one run measured, and where and how.
#[derive(Debug, Serialize)]
pub struct Report {
    pub started_at: String,
    pub command: String,
    pub mode: &'static str,
    pub environment: Map<String, Value>,
    pub settings: Value,
    pub figures: Vec<Figure>,
    /// Each scenario's raw results (every repetition, counts, timings).
    pub details: Map<String, Value>,
    /// Scenarios that failed, with why; their figures are empty.
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn new(mode: &'static str, settings: Value) -> Self {
        Self {
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            mode,
            environment: Map::new(),
            settings,
            figures: Vec::new(),
            details: Map::new(),
            problems: Vec::new(),
        }
    }

    pub fn figure(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        value: Option<f64>,
        unit: Unit,
        note: impl Into<String>,
    ) -> &mut Figure {
        self.figures.push(Figure {
            section,
            name: name.into(),
            value,
            unit,
            note: note.into(),
            target: None,
            met: None,
        });
        self.figures.last_mut().expect("just pushed")
    }

    pub fn detail(&mut self, scenario: &str, value: impl Serialize) {
        self.details.insert(
            scenario.to_owned(),
            serde_json::to_value(value).unwrap_or_else(|error| Value::String(error.to_string())),
        );
    }

    pub fn problem(&mut self, scenario: &'static str, error: &anyhow::Error) {
        self.problems.push(Problem {
            scenario,
            error: format!("{error:#}"),
        });
    }

    /// The table: one line per figure, grouped by section, with target and verdict, then
    /// the problems.
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .figures
            .iter()
            .map(|figure| {
                [
                    figure.name.clone(),
                    figure
                        .value
                        .map_or_else(|| "not measured".to_owned(), |v| figure.unit.format(v)),
                    figure
                        .target
                        .map_or_else(String::new, |t| t.describe(figure.unit)),
                    match figure.met {
                        Some(true) => "met".to_owned(),
                        Some(false) => "NOT MET".to_owned(),
                        None if figure.target.is_some() => "unknown".to_owned(),
                        None => String::new(),
                    },
                ]
            })
            .collect();
        let header = ["figure", "value", "target", ""].map(str::to_owned);
        let mut widths = [0; 4];
        for row in rows.iter().chain([&header]) {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |out: &mut String, row: &[String; 4]| {
            let text = format!(
                "{:<w0$}  {:>w1$}  {:<w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            );
            let _ = writeln!(out, "{}", text.trim_end());
        };
        let mut out = String::new();
        line(&mut out, &header);
        // Grouped by section in a fixed order; figures keep their order within a section.
        let rank = |section: &str| SECTIONS.iter().position(|s| *s == section);
        let mut grouped: Vec<(&Figure, &[String; 4])> = self.figures.iter().zip(&rows).collect();
        grouped.sort_by_key(|(figure, _)| rank(figure.section).unwrap_or(SECTIONS.len()));
        let mut section = "";
        for &(figure, row) in &grouped {
            if figure.section != section {
                section = figure.section;
                let _ = writeln!(out, "-- {section}");
            }
            line(&mut out, row);
        }
        let notes: Vec<&Figure> = grouped
            .iter()
            .map(|(figure, _)| *figure)
            .filter(|f| !f.note.is_empty())
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nhow each figure was obtained:");
            for figure in notes {
                let _ = writeln!(out, "  {}: {}", figure.name, figure.note);
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(out, "\nnot measured:");
            for problem in &self.problems {
                let _ = writeln!(out, "  {}: {}", problem.scenario, problem.error);
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1,000");
    }

    #[test]
    fn targets_are_judged_and_printed() {
        let mut report = Report::new("quick", Value::Null);
        report
            .figure("ingest", "rate", Some(30_000.0), Unit::PerSecond, "")
            .target(Target::AtLeast(25_000.0));
        report
            .figure("ingest", "p99", Some(30.0), Unit::Millis, "")
            .target(Target::Below(25.0));
        report
            .figure("memory", "rss", None, Unit::Megabytes, "")
            .target(Target::Below(100.0));
        let table = report.table();
        assert!(table.contains("30,000 /s  >= 25,000 /s  met"), "{table}");
        let p99 = table.lines().find(|l| l.starts_with("p99")).unwrap();
        assert!(
            p99.contains("< 25.00 ms") && p99.ends_with("NOT MET"),
            "{table}"
        );
        assert!(table.contains("not measured"), "{table}");
        assert!(table.contains("unknown"), "{table}");
    }
}
