"""The stable code of each kind of problem envres reports, as ruff numbers its rules.

A code names a kind of problem, not its severity: an unset variable is ``E401``
whether it fails validation or is a warning under ``--allow-missing-env``. Codes
never change meaning once released; a new kind gets a new code. The README's
table lists :data:`CODES` (a test keeps the two the same).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BAD_REFERENCE",
    "CODES",
    "CONFIG_INVALID",
    "CREDENTIAL_SHAPE",
    "DEFINITIONS",
    "DUPLICATE_KEY",
    "ENV_FILE",
    "EXTENDS_CYCLE",
    "EXTENDS_UNKNOWN",
    "FILE_IGNORED",
    "FILE_UNREADABLE",
    "FORBIDDEN_TYPE",
    "INIT",
    "INTERFACE",
    "INTERPOLATION",
    "LITERAL_SECRET",
    "MISSING_RESOURCE",
    "NO_TYPE",
    "PROFILE_NOT_FOUND",
    "REQUIRED_KEY",
    "SETTINGS",
    "SOURCE",
    "STRUCTURE",
    "TEMPLATE",
    "TWO_FILES",
    "UNKNOWN_TYPE",
    "UNSET_VARIABLE",
    "YAML_SYNTAX",
]

# Files and YAML
YAML_SYNTAX: Final = "E101"
DUPLICATE_KEY: Final = "E102"
FILE_UNREADABLE: Final = "E103"
TWO_FILES: Final = "E104"
ENV_FILE: Final = "E105"
FILE_IGNORED: Final = "W106"
# A profile's structure
STRUCTURE: Final = "E201"
EXTENDS_UNKNOWN: Final = "E202"
EXTENDS_CYCLE: Final = "E203"
PROFILE_NOT_FOUND: Final = "E204"
# Types and configs
UNKNOWN_TYPE: Final = "E301"
NO_TYPE: Final = "E302"
CONFIG_INVALID: Final = "E303"
# Variables and templates
UNSET_VARIABLE: Final = "E401"
INTERPOLATION: Final = "E402"
TEMPLATE: Final = "E403"
SOURCE: Final = "E404"
# References and the definitions
MISSING_RESOURCE: Final = "E501"
BAD_REFERENCE: Final = "E502"
INTERFACE: Final = "E503"
DEFINITIONS: Final = "E504"
# Settings and scaffolding
SETTINGS: Final = "E601"
INIT: Final = "E602"
# Team rules ([[tool.envres.rules]] and the built-in ones)
LITERAL_SECRET: Final = "E701"
CREDENTIAL_SHAPE: Final = "E702"
FORBIDDEN_TYPE: Final = "E703"
REQUIRED_KEY: Final = "E704"

#: Every code and what it means, in the order the README's table lists them.
CODES: Final[dict[str, str]] = {
    YAML_SYNTAX: "a YAML file cannot be parsed (syntax, a bad key, too deep, too many aliases)",
    DUPLICATE_KEY: "a mapping writes the same key twice",
    FILE_UNREADABLE: "a profile file cannot be read (not a regular file, too large)",
    TWO_FILES: "one profile name has two files (prod.yaml and prod.yml)",
    ENV_FILE: "an env file is missing, unreadable or has a line that is not NAME=value",
    FILE_IGNORED: "a file in the profiles folder is not read: its name is not a profile name",
    STRUCTURE: "a profile's structure is wrong (an unknown key, a list where a mapping goes)",
    EXTENDS_UNKNOWN: "extends names a profile that does not exist",
    EXTENDS_CYCLE: "extends goes round in a cycle",
    PROFILE_NOT_FOUND: "the selected profile does not exist or cannot be selected (a partial)",
    UNKNOWN_TYPE: "a type: cannot be resolved (unknown, not allowed, fails to import)",
    NO_TYPE: "a resource has no type:",
    CONFIG_INVALID: "a config value does not validate against the type's model",
    UNSET_VARIABLE: "a variable the profile needs is not set",
    INTERPOLATION: "a ${...} expression is malformed",
    TEMPLATE: "a {{ }} template fails to render",
    SOURCE: "a secret source reference cannot be resolved (or was not, offline)",
    MISSING_RESOURCE: "an asset needs a resource key the profile does not define",
    BAD_REFERENCE: "a {resource: key} reference is unknown, of the wrong type, or in a cycle",
    INTERFACE: "a resource's type does not provide what an asset's annotation asks for",
    DEFINITIONS: "the definitions cannot be imported or are not an envres.Definitions",
    SETTINGS: "[tool.envres] in pyproject.toml is invalid",
    INIT: "envres init cannot write into the folder",
    LITERAL_SECRET: "a secret field's value is written in the profile instead of a ${VAR}",
    CREDENTIAL_SHAPE: "a value has the shape of a credential (an AWS key id, a token, a key block)",
    FORBIDDEN_TYPE: "a rule forbids this type in this profile",
    REQUIRED_KEY: "a rule requires a resource key that this profile does not define",
}
