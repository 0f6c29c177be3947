//! Reading the `Signature-Input` (RFC 9421 §4.1) and `Signature` (§4.2)
//! fields: structured-field Dictionaries keyed by label, each
//! `Signature-Input` member an inner list of component identifiers with
//! the signature parameters (§2.3), each `Signature` member a Byte
//! Sequence. The limits of the parent module apply before any parsing.

use std::convert::Infallible;

use sfv::visitor::{DictionaryVisitor, EntryVisitor};
use sfv::{BareItem, KeyRef, ListEntry};

use super::{Component, MAX_COMPONENTS, MAX_FIELD_LEN, MAX_SIGNATURES, Message, SignatureError, SignatureParams};

/// One signature found on a message, not yet verified.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its label (any label is accepted).
    pub label: String,
    /// Its covered components and parameters.
    pub params: SignatureParams,
    /// The `Signature-Input` member as received (re-serialized), the value
    /// of the `@signature-params` line.
    pub(super) signature_params: String,
    /// The signature bytes.
    pub(super) signature: Vec<u8>,
}

/// A Dictionary parse that notes repeated keys (RFC 9651 lets the last
/// one win; for signatures that hides which one is meant, so we refuse).
struct NoDuplicates {
    dict: sfv::Dictionary,
    duplicate: Option<String>,
}

impl<'de> DictionaryVisitor<'de> for NoDuplicates {
    type Out = (sfv::Dictionary, Option<String>);
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        if self.duplicate.is_none() && self.dict.contains_key(key) {
            self.duplicate = Some(key.as_str().to_owned());
        }
        DictionaryVisitor::entry(&mut self.dict, key)
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok((self.dict, self.duplicate))
    }
}

fn dictionary(msg: &Message<'_>, name: &'static str) -> Result<sfv::Dictionary, SignatureError> {
    let value = msg.field(name).ok_or(SignatureError::MissingHeader(name))?;
    if value.len() > MAX_FIELD_LEN {
        return Err(SignatureError::TooLarge(name));
    }
    let (dict, duplicate) = sfv::Parser::new(&value)
        .parse_dictionary_with_visitor(NoDuplicates { dict: sfv::Dictionary::new(), duplicate: None })
        .map_err(|e| SignatureError::Malformed(format!("{name}: {e}")))?;
    if let Some(label) = duplicate {
        return Err(SignatureError::DuplicateLabel(label));
    }
    if dict.len() > MAX_SIGNATURES {
        return Err(SignatureError::TooManySignatures);
    }
    Ok(dict)
}

fn int_param(key: &str, v: &BareItem) -> Result<i64, SignatureError> {
    v.as_integer().map(i64::from).ok_or_else(|| SignatureError::Malformed(format!("parameter {key} is not an integer")))
}

fn string_param(key: &str, v: &BareItem) -> Result<String, SignatureError> {
    v.as_string()
        .map(|s| s.as_str().to_owned())
        .ok_or_else(|| SignatureError::Malformed(format!("parameter {key} is not a string")))
}

/// The covered components and parameters of one `Signature-Input` member.
fn params_of(list: &sfv::InnerList) -> Result<SignatureParams, SignatureError> {
    if list.items.len() > MAX_COMPONENTS {
        return Err(SignatureError::TooManyComponents);
    }
    let mut p = SignatureParams::default();
    for item in &list.items {
        let c = Component::from_item(item)?;
        if p.components.contains(&c) {
            return Err(SignatureError::DuplicateComponent(c.to_string()));
        }
        p.components.push(c);
    }
    for (key, value) in &list.params {
        match key.as_str() {
            "created" => p.created = Some(int_param("created", value)?),
            "expires" => p.expires = Some(int_param("expires", value)?),
            "nonce" => p.nonce = Some(string_param("nonce", value)?),
            "alg" => p.alg = Some(string_param("alg", value)?),
            "keyid" => p.keyid = Some(string_param("keyid", value)?),
            "tag" => p.tag = Some(string_param("tag", value)?),
            // Other parameters stay in the signed `@signature-params` line.
            _ => {}
        }
    }
    Ok(p)
}

/// Every signature on `msg`: each `Signature-Input` label must have a
/// `Signature` member and the other way round.
pub fn signatures(msg: &Message<'_>) -> Result<Vec<Candidate>, SignatureError> {
    let inputs = dictionary(msg, "signature-input")?;
    let mut sigs = dictionary(msg, "signature")?;
    let mut out = Vec::with_capacity(inputs.len());
    for (label, input) in &inputs {
        let ListEntry::InnerList(list) = input else {
            return Err(SignatureError::Malformed(format!("Signature-Input {} is not an inner list", label.as_str())));
        };
        let sig = sigs
            .shift_remove(label.as_str())
            .ok_or_else(|| SignatureError::UnmatchedLabel(label.as_str().to_owned()))?;
        let signature = match sig {
            ListEntry::Item(sfv::Item { bare_item: BareItem::ByteSequence(b), .. }) => b,
            _ => {
                return Err(SignatureError::Malformed(format!("Signature {} is not a byte sequence", label.as_str())));
            }
        };
        out.push(Candidate {
            label: label.as_str().to_owned(),
            params: params_of(list)?,
            signature_params: super::serialize_inner_list(list),
            signature,
        });
    }
    if let Some((label, _)) = sigs.first() {
        return Err(SignatureError::UnmatchedLabel(label.as_str().to_owned()));
    }
    Ok(out)
}
