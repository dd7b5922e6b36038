"""Accounts in the API: who is calling, their credentials, and what they may see."""
