//! Bearer tokens with scopes. With no token configured every request is allowed (the server
//! warns at start when that is the case on a non-loopback address).

use axum::http::{HeaderMap, header};

use crate::config::{Scope, Token};

pub struct Authenticator {
    tokens: Vec<Token>,
}

#[derive(Debug)]
pub struct Denied {
    /// No credentials or unknown ones (401), as opposed to too few scopes (403).
    pub unauthenticated: bool,
    pub message: String,
}

impl Authenticator {
    pub fn new(tokens: Vec<Token>) -> Authenticator {
        Authenticator { tokens }
    }

    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Checks an `authorization: Bearer <token>` value for a scope.
    pub fn check_value(&self, authorization: Option<&str>, scope: Scope) -> Result<(), Denied> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        let presented = authorization.and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        });
        let Some(presented) = presented else {
            return Err(Denied {
                unauthenticated: true,
                message: "missing bearer token".into(),
            });
        };
        let Some(token) = self.tokens.iter().find(|token| {
            constant_time_equal(token.secret.as_bytes(), presented.trim().as_bytes())
        }) else {
            return Err(Denied {
                unauthenticated: true,
                message: "unknown bearer token".into(),
            });
        };
        if token.scopes.contains(&scope) || token.scopes.contains(&Scope::Admin) {
            Ok(())
        } else {
            Err(Denied {
                unauthenticated: false,
                message: format!("token lacks the {scope:?} scope").to_lowercase(),
            })
        }
    }

    pub fn check(&self, headers: &HeaderMap, scope: Scope) -> Result<(), Denied> {
        self.check_value(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok()),
            scope,
        )
    }
}

fn constant_time_equal(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}
