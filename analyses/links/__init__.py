"""Entity links: who shares a phone, address, bank account, cheque drawer or delivery point."""
