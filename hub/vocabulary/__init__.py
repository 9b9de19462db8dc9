"""The ground floor: the national vocabulary and the reference data every other floor shares.

Records and enums of the national schema (:mod:`.model`), Kemendagri region codes and the
region prefix value (:mod:`.reference`), country codes (:mod:`.countries`), the relations
between entities (:mod:`.relations`) and the caller roles (:mod:`.roles`). Imports nothing
else of the project.
"""
