//! What a snapshot holds, as plain Rust values: the court stage produces
//! these, the snapshot writer stores them, the reader gives them back (for
//! carry-over and the administrators' commands). Database rows and JSON
//! bodies are converted from these by hand, at their own boundaries.

use chrono::{NaiveDate, NaiveDateTime};

use schemas::hearing_list::{self, Hearing, PackError};

use crate::kinds::CaseKey;

/// One court's part of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CourtData {
    pub code: String,
    pub name: String,
    /// Export date of the batch this court's data came from.
    pub as_of: NaiveDate,
    /// Why the data was carried over from an earlier snapshot, if it was.
    pub carry_reason: Option<String>,
    /// Sorted by key.
    pub cases: Vec<CaseData>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaseData {
    pub key: CaseKey,
    pub division: String,
    pub status: String,
    pub status_date: Option<NaiveDate>,
    pub queryable: bool,
    /// At most three, newest first; empty unless queryable.
    pub entries: Vec<EntryData>,
    /// Sorted by address; empty unless queryable.
    pub grants: Vec<GrantData>,
    /// Sorted; empty unless queryable.
    pub prosecutors: Vec<String>,
    /// Every hearing the case's existing entries schedule (`hearings`),
    /// sorted by the entry's 序號; empty unless queryable. Packed as the
    /// snapshot stores them: the import packs them where it works them out,
    /// in parallel, and a court carried over copies its bytes.
    pub hearings: HearingList,
    /// The digest of what `hearings` were worked out from tonight
    /// (`hearings::Extractor::digest`), stored beside its list; `None` for a
    /// case whose hearings were not worked out tonight (carried over, past
    /// the cutoff, or a build without hearings), which the next night
    /// works out again.
    pub extracted: Option<u64>,
    /// Tonight's list, carried on from the live snapshot's, differs from
    /// it in what a calendar holds for a hearing from tonight on
    /// (`hearings::corrections`). The snapshot names such cases
    /// (`meta.hearings_corrected`), for the mail stage to tell their
    /// followers what the night's news does not.
    pub hearings_corrected: bool,
    /// Set for a case left out of its court's files tonight (a rejected
    /// row, or listed twice) whose previous version the snapshot keeps for
    /// the next night's comparison only (`meta.cases_carried_over`; not
    /// shown, not reminded of): the export date of that version's data.
    pub as_of: Option<NaiveDate>,
}

/// A case's hearings packed by `schemas::hearing_list`, checked when made:
/// [`HearingList::decode`] cannot fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HearingList {
    bytes: Vec<u8>,
    count: u32,
}

impl HearingList {
    /// Packs `list`.
    pub fn pack(list: &[HearingData]) -> Result<HearingList, PackError> {
        HearingList::pack_in(list, &mut Vec::new())
    }

    /// Packs `list` in `scratch` (emptied first), kept at exactly its size:
    /// the import packs case after case in one buffer and keeps each list
    /// until its court is written.
    pub fn pack_in<R: AsRef<str>>(
        list: &[Hearing<R>],
        scratch: &mut Vec<u8>,
    ) -> Result<HearingList, PackError> {
        scratch.clear();
        hearing_list::encode(list, scratch)?;
        Ok(HearingList {
            bytes: scratch.as_slice().to_vec(),
            count: list.len() as u32,
        })
    }

    /// Packed bytes as a snapshot stores them, checked (empty: none).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<HearingList, PackError> {
        let count = if bytes.is_empty() {
            0
        } else {
            hearing_list::count(&bytes)? as u32
        };
        Ok(HearingList { bytes, count })
    }

    /// A list as the live snapshot stores it, checked, and how many of its
    /// hearings are uncertain: for copying it to tonight's.
    pub fn from_stored(bytes: Vec<u8>) -> Result<(HearingList, u32), PackError> {
        let (count, uncertain) = hearing_list::tally(&bytes)?;
        Ok((
            HearingList {
                bytes,
                count: count as u32,
            },
            uncertain as u32,
        ))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many hearings.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn decode(&self) -> Vec<HearingData> {
        if self.bytes.is_empty() {
            return Vec::new();
        }
        hearing_list::decode(&self.bytes).expect("a hearing list is checked when made")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryData {
    pub seq: u32,
    pub posted: NaiveDate,
    pub text: String,
    pub modified: NaiveDateTime,
}

/// A hearing an entry schedules, and what later entries did to it
/// (`hearings`, docs/HEARINGS.md): one record of a case's packed list.
pub use schemas::hearing_list::Hearing as HearingData;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantData {
    pub email: String,
    pub role: String,
    pub approved: NaiveDate,
}

impl CaseData {
    /// Marks the case as past the cutoff: it stays listed, without the data
    /// only a queryable case may show.
    pub fn expire(&mut self) {
        self.queryable = false;
        self.entries.clear();
        self.grants.clear();
        self.prosecutors.clear();
        self.hearings = HearingList::default();
        self.extracted = None;
    }
}
