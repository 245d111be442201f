//! The detectors' inputs gathered on all cores, against the same done one device at a
//! time.

use super::{FraudInputs, HotspotCell, Move, SensorStream, fraud_inputs};
use crate::rewards::gather::{Facts, Gathered, Moved, OUTSIDE, SensorFacts};
use crate::rewards::pay::DeviceInput;
use cairn_types::device::SensorEpoch;
use cairn_types::rewards::Work;
use cairn_types::{Address, DeviceClass, Hash};
use proptest::prelude::*;

fn id(i: u64) -> Hash {
    Hash::sha256(&i.to_le_bytes())
}

/// A device: its class, what it heard (a place on the roster, or an outsider's number),
/// whether it moved, and its sensor readings.
pub(crate) type Spec = (u8, Vec<(bool, u16)>, bool, u32);

pub(crate) fn gathered(specs: &[Spec]) -> Gathered {
    let mut roster: Vec<Hash> = (0..specs.len() as u64).map(id).collect();
    roster.sort_unstable();
    let n = specs.len().max(1);
    let mut g = Gathered { roster: roster.clone(), ..Gathered::default() };
    for ((class, heard, moved, readings), device) in specs.iter().zip(roster) {
        let class = match class % 4 {
            0 => DeviceClass::Hotspot,
            1 => DeviceClass::Sensor,
            2 => DeviceClass::Storage,
            _ => DeviceClass::Relay,
        };
        g.entries.push(
            DeviceInput {
                device,
                owner: Address([1; 32]),
                class,
                work: Work::default(),
                density: Vec::new(),
                sensor_quality: None,
            }
            .into_entry(),
        );
        let location = (readings % 2 == 0).then_some(u64::from(*readings));
        let mut f = Facts { location, ..Facts::default() };
        let mut outside = Vec::new();
        f.heard = heard
            .iter()
            .map(|(on, k)| {
                if *on {
                    u32::from(*k) % n as u32
                } else {
                    // A few outsiders, heard by several hotspots.
                    outside.push(id(1_000_000 + u64::from(k % 7)));
                    OUTSIDE
                }
            })
            .collect();
        f.outside = (!outside.is_empty()).then(|| Box::new(outside));
        f.moved = moved.then(|| Box::new(Moved { from: 1, to: 2, blocks: u64::from(*readings) }));
        f.sensor = Some(Box::new(SensorFacts {
            epoch: SensorEpoch { readings: *readings % 3, out_of_range: 0, sum: 0, digest: id(7) },
            registered: 5,
        }));
        g.facts.push(f);
    }
    g
}

/// The inputs read one device at a time, in order.
fn one_by_one(g: &Gathered) -> FraudInputs {
    let mut f = FraudInputs::default();
    let mut outsiders: Vec<Hash> =
        g.facts.iter().filter_map(|x| x.outside.as_deref()).flatten().copied().collect();
    outsiders.sort_unstable();
    outsiders.dedup();
    let n = g.roster.len();
    for (i, (e, x)) in g.entries.iter().zip(&g.facts).enumerate() {
        if let Some(m) = x.moved.as_deref() {
            f.moves.push(Move { device: e.device, from: m.from, to: m.to, blocks: m.blocks });
        }
        if e.class == DeviceClass::Sensor
            && let Some(SensorFacts { epoch: s, registered }) = x.sensor.as_deref()
            && s.readings > 0
        {
            f.sensors.push(SensorStream {
                device: e.device,
                registered: *registered,
                readings: s.readings,
                digest: s.digest,
            });
        }
        if e.class == DeviceClass::Hotspot
            && let Some(cell) = x.location
        {
            f.cells.push(HotspotCell { device: e.device, cell });
        }
        if !x.heard.is_empty() {
            let mut outside = x.outside.iter().flat_map(|o| o.iter());
            let row: Vec<u32> = x
                .heard
                .iter()
                .map(|b| {
                    if *b != OUTSIDE {
                        return *b;
                    }
                    let k = outside.next().and_then(|d| outsiders.binary_search(d).ok());
                    k.map_or(u32::MAX, |k| (n + k) as u32)
                })
                .collect();
            f.witnessed.push_row(i as u32, row);
        }
    }
    f.witnessed.ids = g.roster.clone();
    f.witnessed.ids.extend(outsiders);
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Enough hotspots that the rows are numbered in many pieces, and every piece's rows
    /// land where the one-by-one reading puts them.
    #[test]
    fn inputs_on_all_cores_are_the_inputs_read_one_by_one(
        specs in prop::collection::vec(
            (any::<u8>(), prop::collection::vec((prop::bool::weighted(0.9), any::<u16>()), 0..12), prop::bool::weighted(0.1), 0u32..5),
            0..400,
        )
    ) {
        let mut g = gathered(&specs);
        let want = one_by_one(&g);
        let got = fraud_inputs(&mut g);
        prop_assert_eq!(&got.witnessed, &want.witnessed);
        prop_assert_eq!(&got.moves, &want.moves);
        prop_assert_eq!(&got.sensors, &want.sensors);
        prop_assert_eq!(&got.cells, &want.cells);
    }
}

/// Without a single heard list there are no rows and no offsets, as `push_row` leaves them.
#[test]
fn no_heard_lists_make_no_rows() {
    for specs in [Vec::new(), vec![(0, Vec::new(), false, 1); 3]] {
        let mut g = gathered(&specs);
        let want = one_by_one(&g);
        let got = fraud_inputs(&mut g);
        assert_eq!(got.witnessed, want.witnessed);
        assert!(got.witnessed.offsets.is_empty());
    }
}
