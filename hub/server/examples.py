"""Example queries: pre-filled in GraphiQL, shown in the README, and run by the tests.

Keeping them in code means a schema change that breaks an example breaks a test.
"""

PORTAL_LIST = """# A portal list page: the newest cases from every agency, with their victims and services.
# Press the play button (Ctrl-Enter). Next page: pass pageInfo.endCursor as `after`.
query PortalList($after: String) {
  cases(first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id
        agency { code }
        sourceKey
        reportedAt
        region { code name province { name } }
        countryOfExploitation
        exploitationTypes
        stage
        victims { id sex ageGroup isChild roles }
        services { type status startDate provider { code } }
      }
    }
  }
}
"""

ANALYST_FILTER = """# An analyst's question: child victims of forced criminality, 2023, Central Java.
query Analyst {
  cases(first: 50, orderBy: REPORTED_AT_ASC, filter: {
    reportedFrom: "2023-01-01", reportedTo: "2023-12-31", regions: ["33"],
    childVictim: true, exploitationTypes: [FORCED_CRIMINALITY, CHILD_LABOUR]
  }) {
    totalCount
    edges { node { agency { code } sourceKey reportedAt region { name } exploitationTypes stage } }
  }
  byAgency: statistics(measure: CASES, groupBy: [AGENCY], filter: {
    reportedFrom: "2023-01-01", reportedTo: "2023-12-31", regions: ["33"],
    childVictim: true, exploitationTypes: [FORCED_CRIMINALITY, CHILD_LABOUR]
  }) {
    total rows { keys { value label } count } coverage { source status excludedFor }
  }
}
"""

CASE_DETAIL = """# A case in detail: pass a case id from the list query as $id.
query CaseDetail($id: ID!) {
  case(id: $id) {
    agency { code name }
    sourceKey
    reportedAt
    region { code name }
    countryOfExploitation
    exploitationTypes
    stage
    stageHistory { stage date reference }
    victims { id sex ageGroup isChild services { type startDate } }
    perpetrators { id roles sex }
    witnesses { id roles }
    services { type status provider { code } providerUnit startDate endDate recipient { id } }
  }
}
"""


#: Every example: known operations, run by plan rather than field by field (resolvers/compiled.py).
OPERATIONS = (PORTAL_LIST, ANALYST_FILTER, CASE_DETAIL)
