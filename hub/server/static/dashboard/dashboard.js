// The Task Force dashboard (Dasbor Gugus Tugas PP-TPPO): the national picture, drawn from the
// hub's public GraphQL API with the caller's own credentials. Every number on the page comes
// from one of the operations in dashboard.graphql; every chart's table can be downloaded as CSV.
// It doubles as the reference portal for front-end teams: no build step, no other host.
(function () {
  "use strict";

  var body = document.body;
  var ENDPOINT = body.getAttribute("data-graphql");
  var DOCUMENT_URL = body.getAttribute("data-static") + "/dashboard/dashboard.graphql";
  var MAX_PERSON_PAGES = 20; // service gaps: at most 20 × 500 victims are examined per view

  // --- words ---------------------------------------------------------------------------------
  var TEXT = {
    en: {
      title: "Trafficking in persons: the national picture",
      subtitle: "Task Force for the Prevention and Handling of TPPO (Gugus Tugas PP-TPPO), live from each agency's database",
      from: "From", to: "To", province: "Province", agency: "Agency", all: "All",
      apply: "Apply", reset: "Reset", token: "Access token (optional)", tokenHint: "Bearer token or API key; kept for this tab only",
      viewer: "Viewing as", demo: "demo", exactStats: "exact numbers", protectedStats: "small numbers withheld (k-anonymity)",
      casesByProvinceYear: "Cases by province and year", exploitationTypes: "Forms of exploitation",
      destinationCountries: "Countries of exploitation", servicesByType: "Services given, by type",
      victimsBySex: "Victims by sex", victimsByAgeGroup: "Victims by age group", victimsByChild: "Child victims",
      serviceGaps: "Service gaps: entitlements no agency has recorded (UU 21/2007 Pasal 51)",
      dedup: "Victims counted once across agencies", records: "Victim records (sum of agency reports)",
      persons: "Distinct victims (after record linkage)", overcount: "Counted more than once",
      perAgency: "Per agency: records and distinct persons",
      cases: "Cases", count: "Count", year: "Year", table: "Table", csv: "Download CSV",
      covers: "Covers", excluded: "left out", failed: "did not answer",
      suppressedCell: "withheld", suppressedNote: "Cells under 11 persons are withheld for your role.",
      loading: "Loading…", error: "Could not load", coordinatorsOnly: "Per-agency overlap: coordinators only.",
      gapsPublic: "Service gaps come from person views: analysts and above.",
      gapsNote: "All periods and provinces (a person's services span cases). Victims examined:",
      gapsTruncated: "showing the first", language: "Bahasa Indonesia", graphiql: "Query in GraphiQL",
      staleLinkage: "Distinct-victim numbers are not current:",
      share: "share", none: "No data for this selection.", total: "Total",
      indicators: "Task Force indicators", indicator: "Indicator", value: "Value",
      numerator: "Numerator", denominator: "Denominator", definitionLink: "Definition",
      formula: "Formula", frequency: "Frequency", legalBasis: "Legal basis", producer: "Producer",
      sources: "Sources", days: "days",
    },
    id: {
      title: "Tindak pidana perdagangan orang: gambaran nasional",
      subtitle: "Gugus Tugas Pencegahan dan Penanganan TPPO, langsung dari basis data setiap lembaga",
      from: "Dari", to: "Sampai", province: "Provinsi", agency: "Lembaga", all: "Semua",
      apply: "Terapkan", reset: "Atur ulang", token: "Token akses (opsional)", tokenHint: "Bearer token atau API key; hanya untuk tab ini",
      viewer: "Dilihat sebagai", demo: "demo", exactStats: "angka persis", protectedStats: "angka kecil disembunyikan (k-anonimitas)",
      casesByProvinceYear: "Kasus per provinsi dan tahun", exploitationTypes: "Bentuk eksploitasi",
      destinationCountries: "Negara tempat eksploitasi", servicesByType: "Layanan yang diberikan, per jenis",
      victimsBySex: "Korban menurut jenis kelamin", victimsByAgeGroup: "Korban menurut kelompok umur", victimsByChild: "Korban anak",
      serviceGaps: "Kesenjangan layanan: hak yang belum dicatat lembaga mana pun (UU 21/2007 Pasal 51)",
      dedup: "Korban dihitung sekali lintas lembaga", records: "Rekam korban (jumlah laporan lembaga)",
      persons: "Korban berbeda (setelah penautan rekam)", overcount: "Terhitung lebih dari sekali",
      perAgency: "Per lembaga: rekam dan orang berbeda",
      cases: "Kasus", count: "Jumlah", year: "Tahun", table: "Tabel", csv: "Unduh CSV",
      covers: "Mencakup", excluded: "dikecualikan", failed: "tidak menjawab",
      suppressedCell: "disembunyikan", suppressedNote: "Sel di bawah 11 orang disembunyikan untuk peran Anda.",
      loading: "Memuat…", error: "Gagal memuat", coordinatorsOnly: "Tumpang tindih per lembaga: hanya koordinator.",
      gapsPublic: "Kesenjangan layanan berasal dari data orang: analis ke atas.",
      gapsNote: "Semua periode dan provinsi (layanan seseorang mencakup beberapa kasus). Korban yang diperiksa:",
      gapsTruncated: "menampilkan", language: "English", graphiql: "Kueri di GraphiQL",
      staleLinkage: "Angka korban berbeda belum mutakhir:",
      share: "bagian", none: "Tidak ada data untuk pilihan ini.", total: "Total",
      indicators: "Indikator Gugus Tugas", indicator: "Indikator", value: "Nilai",
      numerator: "Pembilang", denominator: "Penyebut", definitionLink: "Definisi",
      formula: "Rumus", frequency: "Frekuensi", legalBasis: "Dasar hukum", producer: "Produsen data",
      sources: "Sumber", days: "hari",
    },
  };
  var lang = localStorage.getItem("tppo.lang") || (navigator.language.indexOf("id") === 0 ? "id" : "en");
  function t(key) { return TEXT[lang][key] || TEXT.en[key] || key; }

  // --- GraphQL -------------------------------------------------------------------------------
  var documentText = null;
  function loadDocument() {
    if (documentText) return Promise.resolve(documentText);
    return fetch(DOCUMENT_URL).then(function (r) {
      if (!r.ok) throw new Error("dashboard.graphql: HTTP " + r.status);
      return r.text();
    }).then(function (text) { documentText = text; return text; });
  }

  function credentials() {
    var token = sessionStorage.getItem("tppo.token") || "";
    if (!token) return {};
    return token.indexOf(".") > 0 ? { Authorization: "Bearer " + token } : { "X-API-Key": token };
  }

  // The hub gives each caller a budget (a few requests in flight, a bucket of work): the page
  // keeps at most MAX_IN_FLIGHT requests open and, refused with 429, waits Retry-After and asks
  // again, so a dashboard never trips its own caller's budget into errors.
  var MAX_IN_FLIGHT = 2, MAX_RETRIES = 6, inFlight = 0, waiting = [];

  function acquire() {
    if (inFlight < MAX_IN_FLIGHT) { inFlight += 1; return Promise.resolve(); }
    return new Promise(function (resolve) { waiting.push(resolve); });
  }

  function release() {
    var next = waiting.shift();
    if (next) next(); else inFlight -= 1;
  }

  function post(body, attempt) {
    var headers = Object.assign({ "Content-Type": "application/json", Accept: "application/json" }, credentials());
    return fetch(ENDPOINT, { method: "POST", headers: headers, body: body }).then(function (response) {
      if (response.status === 429 && attempt < MAX_RETRIES) {
        var seconds = Math.min(10, Math.max(1, parseInt(response.headers.get("Retry-After") || "1", 10) || 1));
        return new Promise(function (resolve) { setTimeout(resolve, seconds * 1000); }).then(function () {
          return post(body, attempt + 1);
        });
      }
      return response;
    });
  }

  // One operation from dashboard.graphql; resolves to {data, errors, extensions}.
  function gql(operationName, variables) {
    return loadDocument().then(function (query) {
      var body = JSON.stringify({ query: query, operationName: operationName, variables: variables || {} });
      return acquire().then(function () {
        return post(body, 0).then(
          function (response) { release(); return response; },
          function (error) { release(); throw error; }
        );
      });
    }).then(function (response) {
      return response.json().then(function (payload) {
        if (!payload.data && payload.errors) {
          var error = new Error(payload.errors.map(function (e) { return e.message; }).join("; "));
          error.code = (payload.errors[0].extensions || {}).code;
          throw error;
        }
        return payload;
      });
    });
  }

  // --- filters -------------------------------------------------------------------------------
  function currentFilter() {
    var filter = {};
    var from = byId("filter-from").value, to = byId("filter-to").value;
    var province = byId("filter-province").value, agency = byId("filter-agency").value;
    if (from) filter.reportedFrom = from;
    if (to) filter.reportedTo = to;
    if (province) filter.regions = [province];
    if (agency) filter.agencies = [agency];
    return filter;
  }

  // --- tables --------------------------------------------------------------------------------
  function keyLabel(key) {
    if (key.value === null) return lang === "id" ? key.labelId : key.label;
    return (lang === "id" ? key.labelId : key.label) || key.value;
  }

  // Rows of a one-dimension table as {value, label, count, suppressed}: largest first, except
  // for dimensions with a natural order (age bands and sex in vocabulary order, years ascending).
  var VOCABULARY_OF = { AGE_GROUP: "AgeGroup", SEX: "Sex" };
  var ORDERED = { AGE_GROUP: true, SEX: true, CHILD: true, YEAR: true, MONTH: true };
  function series(table) {
    var rows = table.rows.map(function (row) {
      return { value: row.keys[0].value, label: keyLabel(row.keys[0]), count: row.count, suppressed: row.suppressed };
    });
    var dimension = table.rows.length ? table.rows[0].keys[0].dimension : null;
    var order = vocabularyOrder[VOCABULARY_OF[dimension]];
    if (order) {
      rows.sort(function (a, b) { return rank(order, a.value) - rank(order, b.value); });
    } else if (!ORDERED[dimension]) {
      rows.sort(function (a, b) { return (b.count || 0) - (a.count || 0); });
    }
    return rows;
  }
  function rank(order, value) { return value in order ? order[value] : 1e6; }

  // Long category names are cut on the axis (the table and tooltip show them whole).
  function shortLabel(value) {
    var label = this.getLabelForValue(value);
    return label.length > 32 ? label.slice(0, 31) + "…" : label;
  }

  function csvOf(table) {
    var dims = table.rows.length ? table.rows[0].keys.map(function (k) { return k.dimension; }) : [];
    var header = [];
    dims.forEach(function (d) { header.push(d, d + "_label"); });
    header.push("count", "suppressed");
    var lines = [header];
    table.rows.forEach(function (row) {
      var line = [];
      row.keys.forEach(function (k) { line.push(k.value === null ? "" : k.value, keyLabel(k)); });
      line.push(row.count === null ? "" : String(row.count), row.suppressed ? "true" : "false");
      lines.push(line);
    });
    return "\ufeff" + lines.map(function (cells) {
      return cells.map(function (c) {
        c = String(c);
        return /[",\n;]/.test(c) ? '"' + c.replace(/"/g, '""') + '"' : c;
      }).join(",");
    }).join("\r\n") + "\r\n";
  }

  function tableElement(table) {
    var element = document.createElement("table");
    var head = element.createTHead().insertRow();
    var dims = table.rows.length ? table.rows[0].keys : [];
    dims.forEach(function (k) { cell(head, "th", k.dimension); });
    cell(head, "th", t("count"));
    var tbody = element.createTBody();
    table.rows.forEach(function (row) {
      var tr = tbody.insertRow();
      row.keys.forEach(function (k) { cell(tr, "td", keyLabel(k)); });
      var td = cell(tr, "td", row.suppressed ? t("suppressedCell") : formatNumber(row.count));
      td.className = "num";
      td.setAttribute("data-count", row.count === null ? "" : String(row.count));
    });
    if (table.total !== null && table.total !== undefined) {
      var foot = element.createTFoot().insertRow();
      cell(foot, "th", t("total")).colSpan = dims.length || 1;
      cell(foot, "td", formatNumber(table.total)).className = "num";
    }
    return element;
  }

  // --- coverage ------------------------------------------------------------------------------
  function coverageElement(table) {
    var line = document.createElement("p");
    line.className = "coverage";
    line.appendChild(document.createTextNode(t("covers") + ": "));
    table.coverage.forEach(function (c) {
      var chip = document.createElement("span");
      var name = c.agency ? c.agency.code : c.source;
      var status = c.status;
      chip.className = "chip chip-" + status;
      chip.textContent = name;
      chip.setAttribute("data-source", c.source);
      chip.setAttribute("data-status", status);
      if (status === "excluded") chip.title = t("excluded") + ": " + c.excludedFor.join(", ");
      else if (status === "error" || status === "timeout") chip.title = t("failed");
      line.appendChild(chip);
    });
    return line;
  }

  // --- cards and charts ----------------------------------------------------------------------
  var charts = {};
  var PALETTE = ["#1f5fa8", "#e07b24", "#2e9e5b", "#c23b3b", "#7c4dbb", "#8a6d3b", "#d0569b", "#5f6b7a",
                 "#b5a21f", "#1fa3b5", "#3b4cc0", "#9c2f59", "#4f8a10", "#a35200", "#6a6a6a"];

  function card(id) {
    var element = byId("card-" + id);
    element.querySelector("h2").textContent = t(id);
    return element;
  }

  function fillCard(id, table, chartConfig) {
    var element = card(id);
    var holder = element.querySelector(".chart");
    holder.innerHTML = "";
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    var details = element.querySelector("details");
    details.querySelector("summary").textContent = t("table");
    var tableHolder = details.querySelector(".table");
    tableHolder.innerHTML = "";
    element.querySelector(".meta").innerHTML = "";
    if (!table) return;
    if (!table.rows.length) {
      holder.textContent = t("none");
    } else {
      var canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", t(id));
      holder.appendChild(canvas);
      charts[id] = new Chart(canvas, chartConfig);
    }
    tableHolder.appendChild(tableElement(table));
    var meta = element.querySelector(".meta");
    if (table.coverage.length) meta.appendChild(coverageElement(table));
    if (table.suppressed) {
      var note = document.createElement("p");
      note.className = "note";
      note.textContent = t("suppressedNote");
      meta.appendChild(note);
    }
    var link = document.createElement("a");
    link.className = "csv";
    link.textContent = t("csv");
    link.download = "tppo-" + id + ".csv";
    link.href = URL.createObjectURL(new Blob([csvOf(table)], { type: "text/csv;charset=utf-8" }));
    meta.appendChild(link);
  }

  function barConfig(rows, horizontal) {
    return {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.label; }),
        datasets: [{ label: t("count"), data: rows.map(function (r) { return r.count; }), backgroundColor: PALETTE[0] }],
      },
      options: {
        indexAxis: horizontal ? "y" : "x", animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: horizontal ? { y: { ticks: { callback: shortLabel, autoSkip: false } } } : {},
      },
    };
  }

  function doughnutConfig(rows) {
    return {
      type: "doughnut",
      data: {
        labels: rows.map(function (r) { return r.label; }),
        datasets: [{ data: rows.map(function (r) { return r.count; }), backgroundColor: PALETTE.slice(0, rows.length) }],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
    };
  }

  // Cases by province (bars) and year (stacked): one dataset per year.
  function provinceYearConfig(table) {
    var provinces = {}, years = {};
    table.rows.forEach(function (row) {
      var p = row.keys[0], y = row.keys[1].value || "—";
      provinces[p.value] = provinces[p.value] || { label: keyLabel(p), total: 0, byYear: {} };
      provinces[p.value].byYear[y] = row.count;
      provinces[p.value].total += row.count || 0;
      years[y] = true;
    });
    var order = Object.keys(provinces).sort(function (a, b) { return provinces[b].total - provinces[a].total; });
    var yearList = Object.keys(years).sort();
    return {
      type: "bar",
      data: {
        labels: order.map(function (code) { return provinces[code].label; }),
        datasets: yearList.map(function (year, i) {
          return {
            label: year,
            data: order.map(function (code) {
              var v = provinces[code].byYear[year];
              return v === undefined ? 0 : v;
            }),
            backgroundColor: PALETTE[i % PALETTE.length],
          };
        }),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true } },
      },
    };
  }

  // --- sections ------------------------------------------------------------------------------
  function showError(id, error) {
    var element = card(id);
    element.querySelector(".chart").textContent = t("error") + ": " + error.message;
  }

  function loadCases(filter) {
    return gql("DashboardCases", { filter: filter }).then(function (payload) {
      var d = payload.data;
      fillCard("casesByProvinceYear", d.casesByProvinceYear, provinceYearConfig(d.casesByProvinceYear));
      fillCard("exploitationTypes", d.exploitationTypes, barConfig(series(d.exploitationTypes), true));
      fillCard("destinationCountries", d.destinationCountries, barConfig(series(d.destinationCountries), true));
      fillCard("servicesByType", d.servicesByType, barConfig(series(d.servicesByType), true));
    }).catch(function (error) {
      ["casesByProvinceYear", "exploitationTypes", "destinationCountries", "servicesByType"].forEach(function (id) {
        showError(id, error);
      });
    });
  }

  function loadVictims(filter) {
    return gql("DashboardVictims", { filter: filter }).then(function (payload) {
      var d = payload.data;
      fillCard("victimsBySex", d.victimsBySex, doughnutConfig(series(d.victimsBySex)));
      fillCard("victimsByAgeGroup", d.victimsByAgeGroup, barConfig(series(d.victimsByAgeGroup), false));
      fillCard("victimsByChild", d.victimsByChild, doughnutConfig(series(d.victimsByChild)));
      fillDedup(d.victimRecordsByAgency, d.victimsByAgency);
      warnLinkage(payload.extensions);
    }).catch(function (error) {
      ["victimsBySex", "victimsByAgeGroup", "victimsByChild", "dedup"].forEach(function (id) { showError(id, error); });
    });
  }

  function fillDedup(records, persons) {
    var element = card("dedup");
    var figures = element.querySelector(".figures");
    figures.innerHTML = "";
    var over = records.total !== null && persons.total !== null ? records.total - persons.total : null;
    [["records", records.total], ["persons", persons.total], ["overcount", over]].forEach(function (pair) {
      var box = document.createElement("div");
      box.className = "figure";
      box.setAttribute("data-figure", pair[0]);
      box.setAttribute("data-value", pair[1] === null ? "" : String(pair[1]));
      var number = document.createElement("strong");
      number.textContent = pair[1] === null ? t("suppressedCell") : formatNumber(pair[1]);
      var label = document.createElement("span");
      label.textContent = t(pair[0]);
      box.appendChild(number);
      box.appendChild(label);
      figures.appendChild(box);
    });
    // Records against persons per agency: the chart behind the double-counting figure.
    var byAgency = {};
    records.rows.forEach(function (row) { byAgency[row.keys[0].value] = { records: row.count, persons: null }; });
    persons.rows.forEach(function (row) {
      byAgency[row.keys[0].value] = byAgency[row.keys[0].value] || { records: null };
      byAgency[row.keys[0].value].persons = row.count;
    });
    var codes = Object.keys(byAgency).sort();
    var combined = {
      measure: "VICTIM_RECORDS / VICTIMS",
      total: null,
      suppressed: records.suppressed || persons.suppressed,
      coverage: persons.coverage,
      rows: [],
    };
    codes.forEach(function (code) {
      ["records", "persons"].forEach(function (what) {
        combined.rows.push({
          keys: [
            { dimension: "AGENCY", value: code, label: code, labelId: code },
            { dimension: "MEASURE", value: what === "records" ? "VICTIM_RECORDS" : "VICTIMS", label: TEXT.en[what], labelId: TEXT.id[what] },
          ],
          count: byAgency[code][what],
          suppressed: byAgency[code][what] === null,
        });
      });
    });
    fillCard("dedup", combined, {
      type: "bar",
      data: {
        labels: codes,
        datasets: [
          { label: t("records"), data: codes.map(function (c) { return byAgency[c].records; }), backgroundColor: PALETTE[1] },
          { label: t("persons"), data: codes.map(function (c) { return byAgency[c].persons; }), backgroundColor: PALETTE[0] },
        ],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false },
    });
  }

  function warnLinkage(extensions) {
    var banner = byId("linkage-warning");
    var linkage = extensions && extensions.linkage;
    if (linkage && linkage.state && linkage.state !== "CURRENT") {
      banner.hidden = false;
      banner.textContent = t("staleLinkage") + " " + linkage.message;
    } else {
      banner.hidden = true;
    }
  }

  function loadDoubleCounting(filter) {
    var holder = byId("card-dedup").querySelector(".overlap");
    holder.innerHTML = "";
    return gql("DashboardDoubleCounting", { filter: filter }).then(function (payload) {
      var dc = payload.data.statistics && payload.data.statistics.doubleCounting;
      if (!dc) {
        holder.textContent = t("coordinatorsOnly");
        return;
      }
      var list = document.createElement("ul");
      dc.overlap.forEach(function (o) {
        var item = document.createElement("li");
        item.textContent = o.agencies.join(" ∩ ") + ": " + formatNumber(o.persons);
        list.appendChild(item);
      });
      holder.appendChild(list);
    }).catch(function () { holder.textContent = t("coordinatorsOnly"); });
  }

  function loadServiceGaps(filter, role) {
    var id = "serviceGaps";
    if (role === "public") {
      fillCard(id, null);
      card(id).querySelector(".chart").textContent = t("gapsPublic");
      return Promise.resolve();
    }
    var counts = {}, examined = 0, total = 0, pages = 0;
    var agencies = filter.agencies || null;
    function page(after) {
      return gql("DashboardServiceGaps", { agencies: agencies, after: after }).then(function (payload) {
        var connection = payload.data.persons;
        total = connection.totalCount;
        connection.edges.forEach(function (edge) {
          if (!edge.node.serviceGaps) return;
          examined += 1;
          edge.node.serviceGaps.forEach(function (gap) { counts[gap.type] = (counts[gap.type] || 0) + 1; });
        });
        pages += 1;
        if (connection.pageInfo.hasNextPage && pages < MAX_PERSON_PAGES) return page(connection.pageInfo.endCursor);
        return connection.pageInfo.hasNextPage;
      });
    }
    return page(null).then(function (truncated) {
      var labels = serviceTypeLabels;
      var table = {
        measure: "VICTIMS", total: examined, suppressed: false, coverage: [],
        rows: Object.keys(counts).map(function (type) {
          var label = labels[type] || { en: type, id: type };
          return { keys: [{ dimension: "SERVICE_TYPE", value: type, label: label.en, labelId: label.id }], count: counts[type], suppressed: false };
        }),
      };
      fillCard(id, table, barConfig(series(table), true));
      var note = document.createElement("p");
      note.className = "note";
      note.textContent = t("gapsNote") + " " + formatNumber(examined) +
        (truncated ? " (" + t("gapsTruncated") + " " + formatNumber(MAX_PERSON_PAGES * 500) + " / " + formatNumber(total) + ")" : "");
      card(id).querySelector(".meta").prepend(note);
    }).catch(function (error) { showError(id, error); });
  }

  // --- indicators (the Task Force's registry, evaluated with the same filter) ----------------
  var INDICATOR_CONCURRENCY = 4;

  function formatValue(unit, value) {
    if (value === null || value === undefined) return t("suppressedCell");
    var locale = lang === "id" ? "id-ID" : "en-GB";
    if (unit === "SHARE") return (value * 100).toLocaleString(locale, { maximumFractionDigits: 1 }) + " %";
    if (unit === "MEDIAN_DAYS" || unit === "DAYS") return value.toLocaleString(locale) + " " + t("days");
    if (unit === "RATIO") return value.toLocaleString(locale, { maximumFractionDigits: 2 }) + "×";
    if (unit === "AMOUNT_IDR") return "Rp " + value.toLocaleString(locale, { maximumFractionDigits: 0 });
    return value.toLocaleString(locale);
  }

  function indicatorRow(body, indicator, result) {
    var text = lang === "id" ? "id" : "en";
    var totals = result ? result.totals : [];
    var rows = totals.length ? totals : [null];
    rows.forEach(function (total, i) {
      var tr = body.insertRow();
      tr.setAttribute("data-indicator", indicator.id);
      var head = cell(tr, "td", "");
      if (i === 0) {
        head.appendChild(document.createTextNode(indicator.name[text] + " "));
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = t("definitionLink");
        details.appendChild(summary);
        var meta = indicator.metadata;
        [[null, indicator.definition[text]], ["formula", meta.formula], ["frequency", meta.frequency],
         ["sources", meta.sources.map(function (a) { return a.code; }).join(", ")],
         ["producer", meta.producer], ["legalBasis", meta.legalBasis]].forEach(function (pair) {
          var p = document.createElement("p");
          p.textContent = (pair[0] ? t(pair[0]) + ": " : "") + pair[1];
          details.appendChild(p);
        });
        head.appendChild(details);
      }
      var label = total && total.keys.length
        ? total.keys.map(function (k) { return (lang === "id" ? k.labelId : k.label) || k.value; }).join(" · ") : "";
      cell(tr, "td", label);
      var value = cell(tr, "td", total ? formatValue(indicator.unit, total.value) : t("error"));
      value.className = "num";
      value.setAttribute("data-value", total && total.value !== null ? String(total.value) : "");
      cell(tr, "td", total && total.numerator !== null ? formatNumber(total.numerator) : "").className = "num";
      cell(tr, "td", total && total.denominator !== null ? formatNumber(total.denominator) : "").className = "num";
    });
  }

  function loadIndicators(filter) {
    var element = byId("card-indicators");
    element.querySelector("h2").textContent = t("indicators");
    var holder = element.querySelector(".indicators");
    return gql("DashboardIndicators", {}).then(function (payload) {
      var list = payload.data.indicators;
      var results = {};
      var queue = list.slice();
      function worker() {
        var next = queue.shift();
        if (!next) return Promise.resolve();
        return gql("DashboardIndicator", { id: next.id, filter: filter })
          .then(function (answer) { results[next.id] = answer.data.indicator; })
          .catch(function () { results[next.id] = null; })
          .then(worker);
      }
      var workers = [];
      for (var i = 0; i < INDICATOR_CONCURRENCY; i++) workers.push(worker());
      return Promise.all(workers).then(function () {
        holder.innerHTML = "";
        var table = document.createElement("table");
        var head = table.createTHead().insertRow();
        ["indicator", "", "value", "numerator", "denominator"].forEach(function (key) { cell(head, "th", key ? t(key) : ""); });
        var body = table.createTBody();
        list.forEach(function (indicator) { indicatorRow(body, indicator, results[indicator.id]); });
        holder.appendChild(table);
      });
    }).catch(function (error) { holder.textContent = t("error") + ": " + error.message; });
  }

  // ServiceType labels from the national vocabulary (fetched with the viewer).
  var serviceTypeLabels = {};
  var vocabularyOrder = {};
  function rememberVocabulary(lists) {
    lists.forEach(function (list) {
      vocabularyOrder[list.name] = {};
      list.values.forEach(function (v, i) { vocabularyOrder[list.name][v.value] = i; });
      if (list.name !== "ServiceType") return;
      list.values.forEach(function (v) { serviceTypeLabels[v.value] = { en: v.labelEn, id: v.labelId }; });
    });
  }

  // --- page ----------------------------------------------------------------------------------
  var viewer = null;

  function translateStatic() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-t]").forEach(function (element) {
      element.textContent = t(element.getAttribute("data-t"));
    });
    byId("lang-toggle").textContent = t("language");
  }

  function fillFilters(data) {
    var agency = byId("filter-agency"), province = byId("filter-province");
    var keepAgency = agency.value, keepProvince = province.value;
    agency.innerHTML = "";
    province.innerHTML = "";
    option(agency, "", t("all"));
    data.agencies.slice().sort(function (a, b) { return a.code < b.code ? -1 : 1; }).forEach(function (a) {
      option(agency, a.code, a.code + " · " + a.name);
    });
    option(province, "", t("all"));
    data.provinces.rows.map(function (row) { return row.keys[0]; })
      .filter(function (k) { return k.value !== null; })
      .sort(function (a, b) { return keyLabel(a) < keyLabel(b) ? -1 : 1; })
      .forEach(function (k) { option(province, k.value, keyLabel(k)); });
    agency.value = keepAgency;
    province.value = keepProvince;
  }

  function showViewer(whoami) {
    var line = byId("viewer");
    line.textContent = t("viewer") + ": " + whoami.role + (whoami.demo ? " (" + t("demo") + ")" : "") +
      (whoami.agency ? " · " + whoami.agency : "") + " — " + (whoami.exactStatistics ? t("exactStats") : t("protectedStats"));
    line.setAttribute("data-role", whoami.role);
  }

  function refresh() {
    body.setAttribute("data-state", "loading");
    var filter = currentFilter();
    return gql("DashboardViewer", {}).then(function (payload) {
      viewer = payload.data.whoami;
      rememberVocabulary(payload.data.vocabulary);
      showViewer(viewer);
      fillFilters(payload.data);
      return Promise.all([
        loadCases(filter),
        loadVictims(filter),
        loadDoubleCounting(filter),
        loadServiceGaps(filter, viewer.role),
        loadIndicators(filter),
      ]);
    }).then(function () {
      body.setAttribute("data-state", "ready");
    }).catch(function (error) {
      byId("viewer").textContent = t("error") + ": " + error.message;
      body.setAttribute("data-state", "error");
    });
  }

  // --- helpers -------------------------------------------------------------------------------
  function byId(id) { return document.getElementById(id); }
  function cell(row, tag, text) {
    var element = document.createElement(tag);
    element.textContent = text;
    row.appendChild(element);
    return element;
  }
  function option(select, value, text) {
    var element = document.createElement("option");
    element.value = value;
    element.textContent = text;
    select.appendChild(element);
  }
  function formatNumber(n) {
    return n === null || n === undefined ? "" : n.toLocaleString(lang === "id" ? "id-ID" : "en-GB");
  }

  byId("filters").addEventListener("submit", function (event) { event.preventDefault(); refresh(); });
  byId("filter-reset").addEventListener("click", function () {
    byId("filters").reset();
    refresh();
  });
  byId("lang-toggle").addEventListener("click", function () {
    lang = lang === "id" ? "en" : "id";
    localStorage.setItem("tppo.lang", lang);
    translateStatic();
    refresh();
  });
  var tokenInput = byId("token");
  tokenInput.value = sessionStorage.getItem("tppo.token") || "";
  tokenInput.addEventListener("change", function () {
    sessionStorage.setItem("tppo.token", tokenInput.value.trim());
    refresh();
  });

  translateStatic();
  refresh();
  window.tppoDashboard = { refresh: refresh, charts: charts };
})();
