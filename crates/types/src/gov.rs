//! Governance: vote-escrowed positions and their voting power, proposals and their kinds,
//! votes, tallies, and setting a parameter by the key path `/v1/params` shows
//! (docs/protocol.md, "Governance"; docs/adr/0026-governance.md).

use crate::device_key::{DeviceId, DeviceKey};
use crate::{Address, Amount, Height, Params};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Parameters of governance.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct GovParams {
    /// Longest lock, in epochs; a lock of this many remaining epochs gets the full
    /// multiplier.
    pub max_lock_epochs: u64,
    /// The multiplier of a lock with `max_lock_epochs` or more remaining (whole numbers).
    pub max_multiplier: u32,
    /// Least deposit of a proposal.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub min_deposit: Amount,
    /// Epochs a proposal is open for votes.
    pub voting_period_epochs: u64,
    /// Share of the CRN locked at the proposal's start (plus the snapshotted stake when
    /// `stake_votes`) that must vote, in basis points.
    pub quorum_bps: u32,
    /// Share of yes in yes + no + veto power that passes a proposal (strictly more).
    pub threshold_bps: u32,
    /// Share of veto in all votes' power (abstain included) that vetoes a proposal
    /// (strictly more); its deposit is burned.
    pub veto_bps: u32,
    /// Whether validators vote with their bonded stake (1 × the whole CRN of their power
    /// in the validator set at the proposal's start) besides their locks.
    pub stake_votes: bool,
}

impl GovParams {
    /// The value of a chain started before governance existed (ADR 0029): the defaults,
    /// since governance's rules act only on locks and proposals such a chain never had.
    pub fn legacy() -> Self {
        GovParams::default()
    }
}

impl Default for GovParams {
    fn default() -> Self {
        GovParams {
            max_lock_epochs: 1_460,
            max_multiplier: 4,
            min_deposit: 1_000 * crate::UNITS_PER_CRN,
            voting_period_epochs: 14,
            quorum_bps: 3_340,
            threshold_bps: 5_000,
            veto_bps: 3_340,
            stake_votes: false,
        }
    }
}

impl GovParams {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.max_lock_epochs == 0 || self.max_multiplier == 0 || self.voting_period_epochs == 0 {
            return Err(
                "gov: max_lock_epochs, max_multiplier and voting_period_epochs must be at least 1"
                    .into(),
            );
        }
        for (name, v) in [
            ("quorum_bps", self.quorum_bps),
            ("threshold_bps", self.threshold_bps),
            ("veto_bps", self.veto_bps),
        ] {
            if v > 10_000 {
                return Err(format!("gov.{name} must be at most 10000, not {v}"));
            }
        }
        Ok(())
    }
}

/// A vote-escrowed position: CRN locked for voting power.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Position {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
    /// A constant position keeps `lock_epochs` remaining until its owner starts the
    /// unlock; a decaying one runs down to `end_epoch`.
    pub constant: bool,
    /// The remaining lock of a constant position.
    pub lock_epochs: u64,
    /// The epoch a decaying position's lock ends (it can be withdrawn from then on).
    pub end_epoch: u64,
}

impl Position {
    /// Epochs of lock left at `epoch`.
    pub fn remaining(&self, epoch: u64) -> u64 {
        if self.constant { self.lock_epochs } else { self.end_epoch.saturating_sub(epoch) }
    }
}

/// Voting power of `amount` with `remaining` epochs of lock: amount × max_multiplier ×
/// min(remaining, max_lock) / max_lock, rounded down (saturating at `u128::MAX`).
pub fn power_of(
    amount: Amount,
    remaining: u64,
    max_lock_epochs: u64,
    max_multiplier: u32,
) -> Amount {
    let max_lock = max_lock_epochs.max(1);
    let r = remaining.min(max_lock);
    // amount × mult × r / max_lock without overflow: split amount by max_lock.
    let scaled = u128::from(max_multiplier).saturating_mul(u128::from(r));
    let (q, rem) = (amount / u128::from(max_lock), amount % u128::from(max_lock));
    q.saturating_mul(scaled).saturating_add(rem.saturating_mul(scaled) / u128::from(max_lock))
}

/// A position's voting power at `epoch` under `params`.
pub fn voting_power(p: &Position, epoch: u64, params: &GovParams) -> Amount {
    power_of(p.amount, p.remaining(epoch), params.max_lock_epochs, params.max_multiplier)
}

/// A vote.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VoteChoice {
    Yes,
    No,
    Abstain,
    Veto,
}

/// One parameter set by a proposal: a key path as `/v1/params` shows it
/// (`coverage.witness_cap`, `coverage.density.0.max`) and the value as JSON text (a bare
/// word is read as a string: amounts are strings).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct ParamChange {
    pub key: String,
    pub value: String,
}

/// What a proposal does when it passes.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProposalAction {
    /// Sets parameters, applied together at the boundary where the proposal passes.
    ParamChange { changes: Vec<ParamChange> },
    /// Pays `amount` from the treasury to `to`.
    TreasurySpend {
        to: Address,
        #[schema(value_type = crate::openapi::AmountString)]
        #[serde(with = "crate::api::amount_str")]
        amount: Amount,
    },
    /// Adds a device key to the denylist, or removes it (`reason: None`).
    Denylist { key: DeviceKey, reason: Option<String> },
    /// Allows or disallows a maker.
    Maker { maker: Address, allowed: bool },
    /// Releases (`release`) or burns the rewards of a device-epoch held in fraud escrow.
    FraudAppeal {
        device: DeviceId,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        epoch: u64,
        release: bool,
    },
    /// Nodes older than version `name` stop before executing `height`.
    Upgrade {
        name: String,
        #[schema(value_type = crate::openapi::U64String)]
        #[serde(with = "crate::api::u64_str")]
        height: Height,
    },
    /// Signalling only.
    Text { text: String },
}

impl ProposalAction {
    pub fn kind(&self) -> &'static str {
        match self {
            ProposalAction::ParamChange { .. } => "param_change",
            ProposalAction::TreasurySpend { .. } => "treasury_spend",
            ProposalAction::Denylist { .. } => "denylist",
            ProposalAction::Maker { .. } => "maker",
            ProposalAction::FraudAppeal { .. } => "fraud_appeal",
            ProposalAction::Upgrade { .. } => "upgrade",
            ProposalAction::Text { .. } => "text",
        }
    }
}

/// Longest proposal title, in bytes.
pub const MAX_TITLE_BYTES: usize = 256;
/// Longest text of a text proposal, upgrade name, or parameter key or value, in bytes.
pub const MAX_TEXT_BYTES: usize = 4_096;
/// Most parameters one proposal sets.
pub const MAX_PARAM_CHANGES: usize = 32;

/// Votes so far: power per choice, and the locked CRN behind them (the turnout the quorum
/// is measured on).
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Tally {
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub yes: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub no: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub abstain: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub veto: Amount,
    /// Locked CRN (and snapshotted stake) of the voters.
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub turnout: Amount,
}

impl Tally {
    fn slot(&mut self, c: VoteChoice) -> &mut Amount {
        match c {
            VoteChoice::Yes => &mut self.yes,
            VoteChoice::No => &mut self.no,
            VoteChoice::Abstain => &mut self.abstain,
            VoteChoice::Veto => &mut self.veto,
        }
    }

    /// Counts a vote.
    pub fn add(&mut self, v: &Vote) {
        let s = self.slot(v.choice);
        *s = s.saturating_add(v.power);
        self.turnout = self.turnout.saturating_add(v.amount);
    }

    /// Takes back a vote counted before (a replaced vote).
    pub fn remove(&mut self, v: &Vote) {
        let s = self.slot(v.choice);
        *s = s.saturating_sub(v.power);
        self.turnout = self.turnout.saturating_sub(v.amount);
    }

    /// All votes' power, abstain included.
    pub fn total_power(&self) -> Amount {
        self.yes.saturating_add(self.no).saturating_add(self.abstain).saturating_add(self.veto)
    }
}

/// One voter's vote on one proposal, with the power and turnout it counts for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Vote {
    pub choice: VoteChoice,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub power: Amount,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub amount: Amount,
}

/// Where a proposal stands.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Open for votes until its end epoch's first block.
    Voting,
    /// Passed and applied; the deposit was refunded.
    Passed,
    /// Quorum reached, threshold not; the deposit was refunded.
    Rejected,
    /// Too few voted; the deposit was refunded.
    NoQuorum,
    /// Vetoed; the deposit was burned.
    Vetoed,
    /// Passed, but its action could not be applied (the deposit was refunded).
    Failed { reason: String },
}

/// A proposal as kept in state.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Proposal {
    pub id: u64,
    pub proposer: Address,
    pub title: String,
    pub action: ProposalAction,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub deposit: Amount,
    /// The block it was submitted in: voting power is read as it stood before this block.
    pub start_height: Height,
    pub start_epoch: u64,
    /// Votes are taken while the epoch is below this; tallied at its first block.
    pub end_epoch: u64,
    /// The lock parameters voting power is computed with (those at the start).
    pub max_lock_epochs: u64,
    pub max_multiplier: u32,
    /// CRN locked when it was submitted (the quorum's base).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub locked_at_start: Amount,
    /// With `stake_votes`: each validator of the set at the start and the whole CRN of its
    /// power, in base units.
    #[schema(value_type = Vec<(Address, crate::openapi::AmountString)>)]
    #[serde(with = "crate::api::pairs_amount_str")]
    pub stake: Vec<(Address, Amount)>,
    pub tally: Tally,
    pub status: ProposalStatus,
    /// The block that tallied it.
    pub decided_height: Option<Height>,
}

impl Proposal {
    /// The quorum's base: locked CRN at the start plus the snapshotted stake.
    pub fn eligible(&self) -> Amount {
        self.stake.iter().fold(self.locked_at_start, |t, (_, s)| t.saturating_add(*s))
    }
}

/// A scheduled software upgrade.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub struct Upgrade {
    pub name: String,
    pub height: Height,
    /// The proposal that scheduled it.
    pub proposal: u64,
}

/// `MAJOR.MINOR.PATCH` of an upgrade name (an optional leading `v`), if it is one.
pub fn parse_version(name: &str) -> Option<(u64, u64, u64)> {
    let mut it = name.strip_prefix('v').unwrap_or(name).split('.');
    let mut next = || it.next().and_then(|p| p.parse::<u64>().ok());
    let v = (next()?, next()?, next()?);
    it.next().is_none().then_some(v)
}

/// Why a parameter change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter {key:?}")]
    UnknownKey { key: String },
    #[error("parameter {key} = {value}: {reason}")]
    BadValue { key: String, value: String, reason: String },
}

/// Keys governance may not change: the epoch length numbers every epoch of the chain's past,
/// and the state layout is how the chain's records were written (switching a running chain
/// would leave its legacy query indexes stale in state and expire every past epoch at once;
/// ADR 0036).
pub const FIXED_PARAMS: &[&str] = &["blocks_per_epoch", "state_layout"];

impl Params {
    /// These parameters with `changes` applied in order (each key a path into the JSON of
    /// `/v1/params`, each value JSON text or a bare word read as a string), checked as a
    /// genesis is checked.
    pub fn with_changes(&self, changes: &[ParamChange]) -> Result<Params, ParamError> {
        let mut json = serde_json::to_value(self).map_err(|e| ParamError::BadValue {
            key: String::new(),
            value: String::new(),
            reason: e.to_string(),
        })?;
        for c in changes {
            set_path(&mut json, c)?;
        }
        let last = changes.last();
        let bad = |reason: String| ParamError::BadValue {
            key: last.map(|c| c.key.clone()).unwrap_or_default(),
            value: last.map(|c| c.value.clone()).unwrap_or_default(),
            reason,
        };
        // Which change is at fault: the first whose value alone does not decode.
        for c in changes {
            let mut one = serde_json::to_value(self).map_err(|e| bad(e.to_string()))?;
            set_path(&mut one, c)?;
            if let Err(e) = serde_json::from_value::<Params>(one) {
                return Err(ParamError::BadValue {
                    key: c.key.clone(),
                    value: c.value.clone(),
                    reason: e.to_string(),
                });
            }
        }
        let p: Params = serde_json::from_value(json).map_err(|e| bad(e.to_string()))?;
        p.validate().map_err(|e| bad(e.to_string()))?;
        Ok(p)
    }
}

fn set_path(json: &mut serde_json::Value, c: &ParamChange) -> Result<(), ParamError> {
    let unknown = || ParamError::UnknownKey { key: c.key.clone() };
    if c.key.is_empty() || FIXED_PARAMS.contains(&c.key.as_str()) {
        return Err(if c.key.is_empty() {
            unknown()
        } else {
            ParamError::BadValue {
                key: c.key.clone(),
                value: c.value.clone(),
                reason: "this parameter is fixed at genesis".into(),
            }
        });
    }
    let mut at = json;
    for part in c.key.split('.') {
        at = match at {
            serde_json::Value::Object(m) => m.get_mut(part).ok_or_else(unknown)?,
            serde_json::Value::Array(a) => {
                let i: usize = part.parse().map_err(|_| unknown())?;
                a.get_mut(i).ok_or_else(unknown)?
            }
            _ => return Err(unknown()),
        };
    }
    let parsed = serde_json::from_str::<serde_json::Value>(&c.value);
    *at = match (&*at, parsed) {
        // Amounts and names are strings: a bare word or number is taken as the string.
        (serde_json::Value::String(_), Ok(serde_json::Value::String(s))) => {
            serde_json::Value::String(s)
        }
        (serde_json::Value::String(_), _) => serde_json::Value::String(c.value.clone()),
        (_, Ok(v)) => v,
        (_, Err(e)) => {
            return Err(ParamError::BadValue {
                key: c.key.clone(),
                value: c.value.clone(),
                reason: e.to_string(),
            });
        }
    };
    Ok(())
}

/// The JSON shape of `/v1/gov/positions/{addr}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PositionView {
    pub owner: Address,
    pub position: Option<Position>,
    /// Voting power now (at the next block's epoch).
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub power: Amount,
    pub epoch: u64,
    /// The owner's votes on the newest proposals (those `/v1/gov/proposals` lists first),
    /// newest first.
    #[serde(default)]
    pub votes: Vec<VoteView>,
}

/// One vote of an account, as `/v1/gov/positions/{addr}` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoteView {
    pub proposal: u64,
    pub choice: VoteChoice,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub power: Amount,
}

/// The JSON shape of `/v1/gov/proposals/{id}`: the proposal with its tally so far, the
/// quorum's base, and what a tally now would decide (`passed`, `rejected`, `no_quorum`,
/// `vetoed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProposalView {
    pub proposal: Proposal,
    #[schema(value_type = crate::openapi::AmountString)]
    #[serde(with = "crate::api::amount_str")]
    pub eligible: Amount,
    pub verdict_now: String,
}

/// The JSON shape of `/v1/gov/proposals`: the newest proposals first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProposalList {
    pub proposals: Vec<ProposalView>,
    /// The id to pass as `before` for the next (older) page; none on the last page.
    #[serde(default)]
    pub next: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn change(key: &str, value: &str) -> ParamChange {
        ParamChange { key: key.into(), value: value.into() }
    }

    #[test]
    fn a_parameter_is_set_by_its_key_path_and_checked_as_genesis_is() {
        let p = Params::default();
        let q = p.with_changes(&[change("coverage.witness_cap", "10")]).unwrap();
        assert_eq!(q.coverage.witness_cap, 10);
        let q = p.with_changes(&[change("base_fee", "2000")]).unwrap();
        assert_eq!(q.base_fee, 2_000);
        let q = p.with_changes(&[change("coverage.density.0.max", "900")]).unwrap();
        assert_eq!(q.coverage.density[0].max, 900);
        // Rewards shares must still sum to 10,000: one share alone cannot move.
        let e = p.with_changes(&[change("rewards.shares.coverage", "1")]).unwrap_err();
        assert!(matches!(e, ParamError::BadValue { .. }), "{e}");
        assert_eq!(
            p.with_changes(&[change("coverage.witness_kap", "10")]),
            Err(ParamError::UnknownKey { key: "coverage.witness_kap".into() })
        );
        let e = p.with_changes(&[change("coverage.witness_cap", "-1")]).unwrap_err();
        assert!(e.to_string().contains("coverage.witness_cap = -1"), "{e}");
        let e = p.with_changes(&[change("coverage.witness_cap", "ten")]).unwrap_err();
        assert!(e.to_string().contains("coverage.witness_cap = ten"), "{e}");
        let e = p.with_changes(&[change("blocks_per_epoch", "10")]).unwrap_err();
        assert!(e.to_string().contains("fixed"), "{e}");
        let e = p.with_changes(&[change("state_layout", "legacy")]).unwrap_err();
        assert!(e.to_string().contains("fixed"), "{e}");
        let e = p.with_changes(&[change("gov.quorum_bps", "10001")]).unwrap_err();
        assert!(e.to_string().contains("gov.quorum_bps"), "{e}");
        assert_eq!(p.with_changes(&[]).unwrap(), p);
    }

    #[test]
    fn a_version_name_is_three_numbers() {
        assert_eq!(parse_version("0.2.0"), Some((0, 2, 0)));
        assert_eq!(parse_version("v1.10.3"), Some((1, 10, 3)));
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
        assert_eq!(parse_version("next"), None);
    }

    proptest! {
        /// Power never exceeds amount × max multiplier, and a decaying position's power
        /// never rises from one epoch to the next.
        #[test]
        fn lock_power_is_bounded_and_decays_monotonically(
            amount in 0u128..=u128::MAX / 2,
            end in 0u64..5_000,
            max_lock in 1u64..3_000,
            mult in 1u32..200,
            epoch in 0u64..5_000,
        ) {
            let gp = GovParams { max_lock_epochs: max_lock, max_multiplier: mult, ..GovParams::default() };
            let p = Position { amount, constant: false, lock_epochs: 0, end_epoch: end };
            let now = voting_power(&p, epoch, &gp);
            let next = voting_power(&p, epoch + 1, &gp);
            prop_assert!(now <= amount.saturating_mul(u128::from(mult)));
            prop_assert!(next <= now);
            // Exact where it cannot overflow: floor(amount × mult × min(r, max) / max).
            if amount < (1u128 << 64) {
                let r = u128::from(end.saturating_sub(epoch).min(max_lock));
                prop_assert_eq!(now, amount * u128::from(mult) * r / u128::from(max_lock));
            }
            // A constant position keeps its power however far the epoch runs.
            let c = Position { constant: true, lock_epochs: end, ..p };
            prop_assert_eq!(voting_power(&c, epoch, &gp), voting_power(&c, epoch + 1_000, &gp));
            prop_assert_eq!(voting_power(&c, epoch, &gp), voting_power(&p, 0, &gp));
        }
    }
}
