// GraphiQL for the TPPO Data Hub, served by the hub itself: no file comes from another host.
// The example operations open as tabs; a `?query=` link opens that query first.
(function () {
  "use strict";

  var examples = JSON.parse(document.getElementById("tppo-examples").textContent);
  var endpoint = document.body.getAttribute("data-graphql");
  var params = new URLSearchParams(window.location.search);

  var tabs = examples.map(function (example) {
    return { query: example.query, variables: example.variables || undefined };
  });
  if (params.get("query")) {
    tabs.unshift({ query: params.get("query"), variables: params.get("variables") || undefined });
  }

  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultTabs: tabs,
      defaultQuery: tabs.length ? tabs[0].query : undefined,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
