"""The ground floor: the national vocabulary and the reference data every other floor shares.

Records and enums of the national schema (:mod:`.model`), Kemendagri region codes
(:mod:`.reference`) and country codes (:mod:`.countries`). Imports nothing else of the project.
"""
