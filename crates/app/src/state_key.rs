//! Every state key is built here and nowhere else.
//!
//! Keys are ASCII prefixes followed by raw bytes; the prefix names the domain so a dump of
//! the state reads naturally and no two domains can collide.

use cairn_types::device_key::DeviceId;
use cairn_types::{Address, DeviceClass};

/// An account's balance and nonce.
pub fn account(addr: &Address) -> Vec<u8> {
    let mut k = b"acct/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// Chain parameters.
pub fn params() -> Vec<u8> {
    b"meta/params".to_vec()
}

/// Chain id and the solo validator.
pub fn chain() -> Vec<u8> {
    b"meta/chain".to_vec()
}

/// Supply accounting: genesis supply and burned amounts.
pub fn supply() -> Vec<u8> {
    b"meta/supply".to_vec()
}

/// The chain entropy of a block (kept for a window of recent heights).
pub fn entropy(height: u64) -> Vec<u8> {
    let mut k = b"entropy/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Height and time of the last executed block (written every block, so every block
/// changes the state root and the root commits to the height).
pub fn last_block() -> Vec<u8> {
    b"meta/last_block".to_vec()
}

fn with_id(prefix: &[u8], id: &DeviceId) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// A device record.
pub fn device(id: &DeviceId) -> Vec<u8> {
    with_id(b"dev/", id)
}

/// How many times a device key has been registered (the next registration's nonce).
pub fn device_nonce(id: &DeviceId) -> Vec<u8> {
    with_id(b"devnonce/", id)
}

/// A device's report cursor: its last accepted sequence number.
pub fn report_cursor(id: &DeviceId) -> Vec<u8> {
    with_id(b"devseq/", id)
}

/// A device's activity in one epoch (heartbeat slots, counts).
pub fn epoch_activity(id: &DeviceId, epoch: u64) -> Vec<u8> {
    let mut k = with_id(b"devep/", id);
    k.push(b'/');
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// Prefix of all epoch activity records of a device.
pub fn epoch_activity_prefix(id: &DeviceId) -> Vec<u8> {
    let mut k = with_id(b"devep/", id);
    k.push(b'/');
    k
}

/// The `n`-th location assertion of a device (n from 1).
pub fn location(id: &DeviceId, n: u32) -> Vec<u8> {
    let mut k = with_id(b"devloc/", id);
    k.push(b'/');
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// Prefix of a device's location history.
pub fn location_prefix(id: &DeviceId) -> Vec<u8> {
    let mut k = with_id(b"devloc/", id);
    k.push(b'/');
    k
}

/// A denylisted device key (by device id).
pub fn denylist(id: &DeviceId) -> Vec<u8> {
    with_id(b"deny/", id)
}

/// An allowed maker.
pub fn maker(addr: &Address) -> Vec<u8> {
    let mut k = b"maker/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// A (maker, serial) pair already registered.
pub fn maker_serial(maker: &Address, serial: &str) -> Vec<u8> {
    let mut k = b"serial/".to_vec();
    k.extend_from_slice(maker.as_bytes());
    k.push(b'/');
    k.extend_from_slice(serial.as_bytes());
    k
}

/// Devices whose bond returns at `height`.
pub fn bond_release(height: u64) -> Vec<u8> {
    let mut k = b"bondq/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Query index: devices by owner (prefix scan).
pub fn index_owner_prefix(owner: &Address) -> Vec<u8> {
    let mut k = b"idx/owner/".to_vec();
    k.extend_from_slice(owner.as_bytes());
    k.push(b'/');
    k
}

/// Query index: devices by class.
pub fn index_class_prefix(class: DeviceClass) -> Vec<u8> {
    let mut k = b"idx/class/".to_vec();
    k.push(class as u8);
    k.push(b'/');
    k
}

/// Query index: devices by asserted cell (resolution 12, big-endian so that all cells
/// under a coarser parent form one key range).
pub fn index_cell_prefix() -> Vec<u8> {
    b"idx/cell/".to_vec()
}

pub fn index_cell(cell: u64, id: &DeviceId) -> Vec<u8> {
    let mut k = index_cell_prefix();
    k.extend_from_slice(&cell.to_be_bytes());
    k.push(b'/');
    k.extend_from_slice(id.as_bytes());
    k
}

pub fn index_with_id(prefix: Vec<u8>, id: &DeviceId) -> Vec<u8> {
    let mut k = prefix;
    k.extend_from_slice(id.as_bytes());
    k
}

/// A usage channel.
pub fn channel(id: &cairn_types::Hash) -> Vec<u8> {
    let mut k = b"chan/".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// Channels whose dispute window ends at `height` (they pay out then).
pub fn channel_close(height: u64) -> Vec<u8> {
    let mut k = b"chanq/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The length of an epoch roster (see `roster.rs`); `kind` names the list.
pub fn roster_len(kind: &[u8], epoch: u64) -> Vec<u8> {
    let mut k = b"roster/".to_vec();
    k.extend_from_slice(kind);
    k.push(b'/');
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// One chunk of an epoch roster.
pub fn roster_chunk(kind: &[u8], epoch: u64, chunk: u32) -> Vec<u8> {
    let mut k = roster_len(kind, epoch);
    k.push(b'/');
    k.extend_from_slice(&chunk.to_be_bytes());
    k
}

/// A device's rejected reports in an epoch, by reason code (written only on rejection).
pub fn rejections(id: &DeviceId, epoch: u64) -> Vec<u8> {
    let mut k = with_id(b"devrej/", id);
    k.push(b'/');
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// An epoch's reward summary and root.
pub fn epoch_rewards(epoch: u64) -> Vec<u8> {
    let mut k = b"rewards/".to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// The reward run fixed at an epoch's first block and not settled yet
/// (`rewards::deferred::PendingRun`).
pub fn reward_run() -> Vec<u8> {
    b"meta/reward_run".to_vec()
}

/// How many entries of the pending run's report are settled, while its settlement is spread
/// over blocks (`rewards::deferred::settle_step`, ADR 0041; absent: not begun).
pub fn reward_settle_cursor() -> Vec<u8> {
    b"meta/reward_settle_cursor".to_vec()
}

/// Marks leaf `index` of an epoch's rewards as claimed.
pub fn claimed(epoch: u64, index: u64) -> Vec<u8> {
    let mut k = b"claimed/".to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The beaconers a hotspot witnessed (accepted) within the reciprocity window, each with the
/// height of the last beacon of theirs it heard, oldest first: the witness graph the ring
/// detector judges.
pub fn heard(id: &DeviceId) -> Vec<u8> {
    with_id(b"heard/", id)
}

/// A flagged device's rewards of an epoch, held in fraud escrow.
pub fn fraud_hold(id: &DeviceId, epoch: u64) -> Vec<u8> {
    let mut k = with_id(b"fraud/", id);
    k.push(b'/');
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// The last epoch in which a detector found something against a device (with or without
/// an amount to hold): the cold-start rule reads it when it judges an unproven hold.
pub fn fraud_seen(id: &DeviceId) -> Vec<u8> {
    with_id(b"fraudseen/", id)
}

/// Fraud holds whose window ends at the start of `epoch`: (device, epoch) pairs.
pub fn fraud_due(epoch: u64) -> Vec<u8> {
    let mut k = b"fraudq/".to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// The listed price oracles and their last reports.
pub fn oracles() -> Vec<u8> {
    b"meta/oracles".to_vec()
}

/// An account's data credits.
pub fn credits(addr: &Address) -> Vec<u8> {
    let mut k = b"credits/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// Credits minted, consumed and escrowed.
pub fn credit_supply() -> Vec<u8> {
    b"meta/credit_supply".to_vec()
}

/// The CRN value (cost basis) of an account's data credits (ADR 0012).
pub fn credit_value(addr: &Address) -> Vec<u8> {
    let mut k = b"crvalue/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// The credits held in a channel's, job's or deal's escrow and their CRN value.
pub fn escrow_value(id: &cairn_types::Hash) -> Vec<u8> {
    let mut k = b"escvalue/".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// The CRN value of all credits: minted, in escrow, paid onto devices' work.
pub fn credit_value_supply() -> Vec<u8> {
    b"meta/credit_value".to_vec()
}

/// A compute job.
pub fn job(id: &cairn_types::Hash) -> Vec<u8> {
    let mut k = b"job/".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// Jobs whose reveal phase ends at `height` (they settle then).
pub fn job_settle(height: u64) -> Vec<u8> {
    let mut k = b"jobq/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// A storage deal.
pub fn deal(id: &cairn_types::Hash) -> Vec<u8> {
    let mut k = b"deal/".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// How many deals are still running or pending (walked at each epoch start).
pub fn active_deal_count() -> Vec<u8> {
    b"deals/active_count".to_vec()
}

/// The id of the running or pending deal in slot `index` (0 ≤ index < the count): one key
/// per deal, so opening one writes a slot and the count, whatever the number of deals.
pub fn active_deal(index: u64) -> Vec<u8> {
    let mut k = b"deals/active/".to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// Height of a device's last accepted beacon.
pub fn last_beacon(id: &DeviceId) -> Vec<u8> {
    with_id(b"devbeacon/", id)
}

/// The height of a hotspot's beacon before its last one.
pub fn prev_beacon(id: &DeviceId) -> Vec<u8> {
    with_id(b"devbeaconprev/", id)
}

/// An accepted beacon of a device at a height.
pub fn beacon(id: &DeviceId, height: u64) -> Vec<u8> {
    let mut k = with_id(b"beacon/", id);
    k.push(b'/');
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The beacons whose witness window ends at `height` (compact layout, ADR 0036): (beaconer,
/// beacon height) pairs no witness can name after this block; their records go at its end.
pub fn beacon_expiry(height: u64) -> Vec<u8> {
    let mut k = b"beaconq/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The first epoch whose device records and rosters are still kept (compact layout, ADR
/// 0036; absent: 0).
pub fn epochs_expired() -> Vec<u8> {
    b"meta/epochs_expired".to_vec()
}

/// Compact layout: how many roster entries of the epoch named by [`epochs_expired`] have had
/// their records deleted (absent: none).
pub fn expiry_cursor() -> Vec<u8> {
    b"meta/expiry_cursor".to_vec()
}

/// A validator candidate's stake record (tokens, shares, status).
pub fn validator(addr: &Address) -> Vec<u8> {
    let mut k = b"stake/val/".to_vec();
    k.extend_from_slice(addr.as_bytes());
    k
}

/// Every validator candidate, sorted (read at epoch boundaries to rebuild the set).
pub fn candidates() -> Vec<u8> {
    b"stake/candidates".to_vec()
}

/// The shares `delegator` holds in `validator`'s pool (a self-bond when they are equal).
pub fn delegation(validator: &Address, delegator: &Address) -> Vec<u8> {
    let mut k = b"stake/del/".to_vec();
    k.extend_from_slice(validator.as_bytes());
    k.push(b'/');
    k.extend_from_slice(delegator.as_bytes());
    k
}

/// The pending unbonding entries of a validator's pool (slashable until released).
pub fn unbonding(validator: &Address) -> Vec<u8> {
    let mut k = b"stake/unbonding/".to_vec();
    k.extend_from_slice(validator.as_bytes());
    k
}

/// Validators with unbonding entries that release at `height`.
pub fn unbond_release(height: u64) -> Vec<u8> {
    let mut k = b"stake/unbondq/".to_vec();
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// The validator set computed at the start of `epoch` (epoch 0: genesis); it certifies the
/// heights `h` with `epoch_of(h - 1) == epoch`.
pub fn validator_set(epoch: u64) -> Vec<u8> {
    let mut k = b"stake/set/".to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// Governance totals: the next proposal id, the open proposals' start heights, the CRN
/// locked in positions and held as deposits.
pub fn gov_state() -> Vec<u8> {
    b"gov/state".to_vec()
}

/// An owner's governance position and the history open proposals still read.
pub fn gov_position(owner: &Address) -> Vec<u8> {
    let mut k = b"gov/pos/".to_vec();
    k.extend_from_slice(owner.as_bytes());
    k
}

/// A proposal.
pub fn gov_proposal(id: u64) -> Vec<u8> {
    let mut k = b"gov/prop/".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// A voter's vote on a proposal.
pub fn gov_vote(id: u64, voter: &Address) -> Vec<u8> {
    let mut k = b"gov/vote/".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k.extend_from_slice(voter.as_bytes());
    k
}

/// The proposals tallied at the first block of `epoch`.
pub fn gov_due(epoch: u64) -> Vec<u8> {
    let mut k = b"govq/".to_vec();
    k.extend_from_slice(&epoch.to_be_bytes());
    k
}

/// The scheduled software upgrade.
pub fn gov_upgrade() -> Vec<u8> {
    b"gov/upgrade".to_vec()
}
