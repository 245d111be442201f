//! Printing for client commands: human tables by default, JSON with `--json`.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints label/value rows as a two-column table.
pub fn fields(rows: &[(&str, String)]) {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v.clone()]);
    }
    println!("{t}");
}

/// Prints a table with a header row.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    println!("{t}");
}

/// A device's status for people: `active`, `deregistered at 12 (bond back at 40)`, ...
pub fn device_status(s: &cairn_types::device::DeviceStatus) -> String {
    use cairn_types::device::DeviceStatus;
    match s {
        DeviceStatus::Active => "active".into(),
        DeviceStatus::Deregistered { height, bond_release_height } => {
            format!("deregistered at block {height} (bond back at block {bond_release_height})")
        }
        DeviceStatus::Released { height, deregistered_height } => {
            format!("released at block {height} (deregistered at block {deregistered_height})")
        }
    }
}

/// Milliseconds since the Unix epoch as a UTC date and time, `2026-12-07 05:02:05.120 UTC`.
pub fn utc_ms(ms: u64) -> String {
    let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1_000 % 60, rem % 1_000);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{milli:03} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates_across_leap_years_and_centuries() {
        assert_eq!(utc_ms(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(utc_ms(951_782_400_000), "2000-02-29 00:00:00.000 UTC");
        assert_eq!(utc_ms(1_796_619_725_120), "2026-12-07 05:02:05.120 UTC");
        assert_eq!(utc_ms(4_107_542_399_999), "2100-02-28 23:59:59.999 UTC");
    }

    #[test]
    fn a_device_status_reads_as_words() {
        use cairn_types::device::DeviceStatus;
        assert_eq!(device_status(&DeviceStatus::Active), "active");
        let s = device_status(&DeviceStatus::Deregistered { height: 12, bond_release_height: 40 });
        assert_eq!(s, "deregistered at block 12 (bond back at block 40)");
    }
}
