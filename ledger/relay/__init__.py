"""The relay: signed messages from the API to the chain.

    API → kind.parse/check (ballots.py, services.py, forwards.py, election_ballots.py,
        in_person_ballots.py and box_totals.py through poll_office.py, cosignatures.py,
        ratings.py, secret_ballots.py; rolls.py, clock.py, once_each.py, signatures.py)
        → Outbox.submit (outbox.py: durable before acknowledged)
        → Relayer (relayer.py: batch, sign, record, broadcast, settle, split)
        → chain → receipts (outbox.py)

message.py holds what they share: Message, Receipt, Outcome, BatchCall and the MessageRelay
protocol each kind implements.
"""
