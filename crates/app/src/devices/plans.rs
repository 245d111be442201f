//! Region plans: which channel plan a beacon is judged by (docs/adr/0014-radio-plans.md).
//!
//! The rule: among `coverage.radio.plan_cells` holding the beaconer's asserted location,
//! the cell of the finest resolution names the plan (genesis validation keeps the cells
//! distinct, so at most one cell of a resolution holds a location); without such a cell,
//! or without a location, `coverage.radio.default_plan` does.

use cairn_types::genesis::{RadioParams, RegionPlan};

/// The plan of a device at `location` (a resolution-12 cell), `None` only when the chosen
/// name is not among the plans (genesis validation forbids it).
pub fn plan_for(radio: &RadioParams, location: Option<u64>) -> Option<&RegionPlan> {
    let name = location
        .and_then(|loc| h3o::CellIndex::try_from(loc).ok())
        .and_then(|loc| {
            radio
                .plan_cells
                .iter()
                .filter_map(|pc| {
                    let cell = h3o::CellIndex::try_from(pc.cell).ok()?;
                    let res = cell.resolution();
                    (res <= loc.resolution() && loc.parent(res) == Some(cell))
                        .then_some((u8::from(res), pc))
                })
                .max_by_key(|(res, _)| *res)
                .map(|(_, pc)| pc.plan.as_str())
        })
        .unwrap_or(radio.default_plan.as_str());
    radio.plans.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::genesis::PlanCell;
    use h3o::{LatLng, Resolution};

    fn at(lat: f64, lng: f64) -> Option<u64> {
        Some(u64::from(LatLng::new(lat, lng).unwrap().to_cell(Resolution::Twelve)))
    }

    fn plan(radio: &RadioParams, location: Option<u64>) -> &str {
        plan_for(radio, location).map(|p| p.name.as_str()).unwrap_or("none")
    }

    #[test]
    fn north_american_locations_get_us915_and_european_ones_eu868_by_default() {
        let r = RadioParams::default();
        for (lat, lng) in [(40.71, -74.0), (37.77, -122.42), (41.88, -87.63), (61.22, -149.9)] {
            assert_eq!(plan(&r, at(lat, lng)), "US915", "{lat}, {lng}");
        }
        for (lat, lng) in [(43.65, -79.38), (19.43, -99.13), (49.28, -123.12)] {
            assert_eq!(plan(&r, at(lat, lng)), "US915", "{lat}, {lng}");
        }
        for (lat, lng) in [(48.85, 2.35), (51.5, -0.12), (38.72, -9.14), (52.23, 21.01)] {
            assert_eq!(plan(&r, at(lat, lng)), "EU868", "{lat}, {lng}");
        }
    }

    #[test]
    fn an_unlocated_device_gets_the_default_plan() {
        let mut r = RadioParams::default();
        assert_eq!(plan(&r, None), "EU868");
        r.default_plan = "US915".into();
        assert_eq!(plan(&r, None), "US915");
        assert_eq!(plan(&r, at(48.85, 2.35)), "US915");
    }

    #[test]
    fn the_finest_cell_holding_a_location_chooses_its_plan() {
        let paris = at(48.85, 2.35).unwrap();
        let cell = |res| u64::from(h3o::CellIndex::try_from(paris).unwrap().parent(res).unwrap());
        let mut r = RadioParams {
            plan_cells: vec![
                PlanCell { cell: cell(Resolution::Two), plan: "EU868".into() },
                PlanCell { cell: cell(Resolution::Zero), plan: "US915".into() },
            ],
            ..RadioParams::default()
        };
        assert_eq!(plan(&r, Some(paris)), "EU868");
        // The resolution-0 cell still holds places outside the resolution-2 one.
        assert_eq!(plan(&r, at(52.23, 21.01)), "US915");
        r.plan_cells.reverse();
        assert_eq!(plan(&r, Some(paris)), "EU868", "order in the list does not matter");
        r.plan_cells.pop();
        assert_eq!(plan(&r, Some(paris)), "US915");
    }

    #[test]
    fn plans_hold_exactly_their_lorawan_uplink_channels() {
        let r = RadioParams::default();
        let us = r.plans.iter().find(|p| p.name == "US915").unwrap();
        let eu = r.plans.iter().find(|p| p.name == "EU868").unwrap();
        let us_channels: Vec<u32> = (850_000..960_000).filter(|f| us.has_channel(*f)).collect();
        let mut want: Vec<u32> = (0..64).map(|n| 902_300 + 200 * n).collect();
        want.extend((0..8).map(|n| 903_000 + 1_600 * n));
        want.sort_unstable();
        assert_eq!(us_channels, want);
        assert_eq!((us_channels[0], us_channels[71]), (902_300, 914_900));
        let eu_channels: Vec<u32> = (850_000..960_000).filter(|f| eu.has_channel(*f)).collect();
        assert_eq!(
            eu_channels,
            vec![867_100, 867_300, 867_500, 867_700, 867_900, 868_100, 868_300, 868_500]
        );
        assert_eq!((us.max_eirp_dbm, eu.max_eirp_dbm), (36, 16));
    }
}
