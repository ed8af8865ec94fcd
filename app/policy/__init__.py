"""The controller's data inventory (services, items, purposes, retention, processors, holders).

One TOML file per controller, read once at start-up with `load_policy`. Nothing in this module
knows about a particular company: point RIGHTSDESK_POLICY_FILE at another file to swap it.
Every problem in the file surfaces as `PolicyError`, naming the file and the bad entry.
"""

from pathlib import Path

from app.policy.automated import AutomatedDecision
from app.policy.entries import (
    ALL_ITEMS,
    Clinic,
    Contact,
    Controller,
    DataItem,
    Holder,
    PolicyError,
    Processor,
    Purpose,
    Recipient,
    Remedy,
    RequestTypeOffer,
    RetentionRule,
    Rights,
    Service,
    SourceController,
    ThirdPartyProvision,
)
from app.policy.policy import Policy, load_policy

DEFAULT_POLICY_FILE = Path(__file__).with_name("carelabs_crm.toml")

__all__ = [
    "ALL_ITEMS",
    "DEFAULT_POLICY_FILE",
    "AutomatedDecision",
    "Clinic",
    "Contact",
    "Controller",
    "DataItem",
    "Holder",
    "Policy",
    "PolicyError",
    "Processor",
    "Purpose",
    "Recipient",
    "Remedy",
    "RequestTypeOffer",
    "RetentionRule",
    "Rights",
    "Service",
    "SourceController",
    "ThirdPartyProvision",
    "load_policy",
]
