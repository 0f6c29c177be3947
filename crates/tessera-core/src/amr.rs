//! Authentication method references (RFC 8176 §2): how the user signed in,
//! carried from the session to codes, device codes and the ID token's `amr`
//! claim (OpenID Connect Core §2). Stored as the space-separated names.

use std::fmt;

/// One registered method (RFC 8176 §2), named as the claim spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amr {
    /// Facial recognition.
    Face,
    /// Fingerprint.
    Fpt,
    /// Geolocation.
    Geo,
    /// Proof of possession of a hardware-secured key.
    Hwk,
    /// Iris scan.
    Iris,
    /// Knowledge-based authentication.
    Kba,
    /// Several channels.
    Mca,
    /// Several factors.
    Mfa,
    /// One-time password.
    Otp,
    /// PIN or pattern.
    Pin,
    /// Password.
    Pwd,
    /// Risk-based authentication.
    Rba,
    /// Retina scan.
    Retina,
    /// Smart card.
    Sc,
    /// Confirmation by SMS.
    Sms,
    /// Proof of possession of a software-secured key.
    Swk,
    /// Confirmation by telephone call.
    Tel,
    /// User presence test.
    User,
    /// Voice biometric.
    Vbm,
    /// Windows integrated authentication.
    Wia,
}

impl Amr {
    const ALL: [Amr; 20] = [
        Self::Face,
        Self::Fpt,
        Self::Geo,
        Self::Hwk,
        Self::Iris,
        Self::Kba,
        Self::Mca,
        Self::Mfa,
        Self::Otp,
        Self::Pin,
        Self::Pwd,
        Self::Rba,
        Self::Retina,
        Self::Sc,
        Self::Sms,
        Self::Swk,
        Self::Tel,
        Self::User,
        Self::Vbm,
        Self::Wia,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Fpt => "fpt",
            Self::Geo => "geo",
            Self::Hwk => "hwk",
            Self::Iris => "iris",
            Self::Kba => "kba",
            Self::Mca => "mca",
            Self::Mfa => "mfa",
            Self::Otp => "otp",
            Self::Pin => "pin",
            Self::Pwd => "pwd",
            Self::Rba => "rba",
            Self::Retina => "retina",
            Self::Sc => "sc",
            Self::Sms => "sms",
            Self::Swk => "swk",
            Self::Tel => "tel",
            Self::User => "user",
            Self::Vbm => "vbm",
            Self::Wia => "wia",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The methods of one sign-in, in the order first given, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmrSet(Vec<Amr>);

/// A stored `amr` value naming a method RFC 8176 does not register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown authentication method {0:?}")]
pub struct UnknownAmr(pub String);

impl AmrSet {
    /// Reads the stored form: names separated by spaces; empty is no method.
    pub fn parse(s: &str) -> Result<Self, UnknownAmr> {
        let mut out = Self::default();
        for name in s.split(' ').filter(|n| !n.is_empty()) {
            out.insert(Amr::parse(name).ok_or_else(|| UnknownAmr(name.to_string()))?);
        }
        Ok(out)
    }

    pub fn insert(&mut self, a: Amr) {
        if !self.0.contains(&a) {
            self.0.push(a);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Amr> + '_ {
        self.0.iter().copied()
    }

    /// The `amr` claim's values.
    pub fn names(&self) -> Vec<String> {
        self.iter().map(|a| a.as_str().to_string()).collect()
    }
}

impl From<Amr> for AmrSet {
    fn from(a: Amr) -> Self {
        Self(vec![a])
    }
}

/// The stored form, names separated by spaces.
impl fmt::Display for AmrSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(a.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_stored_form() {
        for s in ["", "pwd", "pwd otp mfa"] {
            assert_eq!(AmrSet::parse(s).map(|a| a.to_string()), Ok(s.to_string()));
        }
        assert_eq!(AmrSet::parse("pwd  pwd").map(|a| a.names()), Ok(vec!["pwd".to_string()]));
        assert_eq!(AmrSet::parse("pwd magic"), Err(UnknownAmr("magic".into())));
    }
}
