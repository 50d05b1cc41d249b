//! VERP envelope senders (variable envelope return path): with
//! `mail.bounce_address` set to `bounces@cpor.example.tw`, the message of
//! outbox item 1042 is sent from `bounces+1042.<tag>@cpor.example.tw`, so a
//! delivery report that comes back to that address names its item without
//! reading anything else. The tag is an HMAC of the item id under the data
//! directory's key: a report cannot name an item without its tag, which
//! only the key makes and only that item's message carries. It proves that
//! the report's writer saw the message, not that a relay wrote it: the
//! tag is in the message as delivered (its Return-Path), and so in most
//! copies forwarded from it. So a tagged report is believed only within
//! `outbox::REPORTS_COME_WITHIN` (10 days) of the item's last attempt,
//! when real reports come; later it changes nothing.

use hmac::{Hmac, Mac};
use lettre::Address;
use sha2::Sha256;

/// The envelope sender of item `id`.
pub fn sender(bounce: &Address, key: &[u8], id: i64) -> Address {
    let local = format!("{}+{id}.{}", bounce.user(), tag(key, id));
    Address::new(local, bounce.domain()).expect("a valid user with a plus part is valid")
}

/// The item an address that a report came back to names, if it is one of
/// ours and its tag is right.
pub fn item(bounce: &Address, key: &[u8], address: &str) -> Option<i64> {
    let (local, domain) = address.trim().rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(bounce.domain()) {
        return None;
    }
    let user = bounce.user();
    let rest = local
        .get(..user.len())
        .filter(|u| u.eq_ignore_ascii_case(user))
        .and_then(|_| local[user.len()..].strip_prefix('+'))?;
    let (id, given) = rest.split_once('.')?;
    let id: i64 = id.parse().ok()?;
    let want = tag(key, id);
    let same: bool =
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), given.to_ascii_lowercase().as_bytes())
            .into();
    same.then_some(id)
}

fn tag(key: &[u8], id: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"cpor verp\0");
    mac.update(&id.to_be_bytes());
    schemas::hex(&mac.finalize().into_bytes()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_its_item_and_a_forged_tag_names_nothing() {
        let bounce: Address = "bounces@cpor.example.tw".parse().unwrap();
        let key = [3u8; 32];
        let a = sender(&bounce, &key, 1042);
        assert!(a.to_string().starts_with("bounces+1042."), "{a}");
        assert_eq!(item(&bounce, &key, a.as_ref()), Some(1042));
        assert_eq!(
            item(&bounce, &key, &a.to_string().to_uppercase()),
            Some(1042)
        );
        let forged = a.to_string().replace("+1042.", "+1043.");
        assert_eq!(item(&bounce, &key, &forged), None);
        assert_eq!(item(&bounce, &[4u8; 32], a.as_ref()), None);
        assert_eq!(item(&bounce, &key, "someone@example.com"), None);
    }
}
