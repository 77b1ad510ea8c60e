//! What a statement's Flight SQL ticket holds: the query it names and, so
//! that any coordinator can answer it without this one's memory, the
//! statement itself. A coordinator that still holds the planned query runs
//! it; one that does not (the ticket is redeemed again, on another
//! coordinator behind a load balancer, or after the plan expired) plans the
//! statement again from the ticket, in the caller's session. A write is not
//! run twice: its ticket says it cannot be replayed.

use prost::Message;

#[derive(Clone, PartialEq, prost::Message)]
pub struct StatementTicket {
    /// The query planned for this ticket.
    #[prost(string, tag = "1")]
    pub query_id: String,
    /// The statement: its SQL and bound parameters, as a prepared
    /// statement handle encodes them.
    #[prost(bytes = "vec", tag = "2")]
    pub statement: Vec<u8>,
    /// Whether planning it again gives the same answer: false for a write,
    /// which ran when it was planned.
    #[prost(bool, tag = "3")]
    pub replayable: bool,
}

impl StatementTicket {
    /// The ticket inside a Flight SQL `TicketStatementQuery` handle.
    pub fn from_handle(handle: &[u8]) -> Option<Self> {
        Self::decode(handle).ok().filter(|t| !t.query_id.is_empty())
    }

    pub fn to_handle(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}
