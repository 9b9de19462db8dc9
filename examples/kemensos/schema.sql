-- Kemensos social-rehabilitation shelters: the sixth agency of docs/onboarding.md.
--
-- A synthetic database written for the onboarding guide, in the way a shelter system might
-- keep its records: referrals of clients (of many kinds of case, trafficking among them) to
-- Sentra / Balai social-rehabilitation centres, a link table between referrals and clients
-- (a client may be referred more than once), and the services each referred client received.
-- It carries the data problems the guide teaches how to find: regency names typed by hand
-- (spelling variants, old orthography), a retired exploitation code, a country name typo,
-- NIKs that are not valid in form, a birth date that is not a date, a referral dated in the future.
--
-- Everything is generated deterministically (no random numbers), so the guide's outputs and the
-- test that follows the guide are reproducible. Load it with:
--     psql "$KEMENSOS_URL" -f examples/kemensos/schema.sql
-- All names are invented; NIKs are valid or invalid *in form* only.

DROP SCHEMA IF EXISTS rehsos CASCADE;
CREATE SCHEMA rehsos;
SET search_path = rehsos;

-- Sentra / Balai: the social-rehabilitation centres (shelters).
CREATE TABLE balai (
    id_balai    integer PRIMARY KEY,
    nama_balai  text NOT NULL,
    kab_kota    text NOT NULL
);

-- A referral (rujukan) of a case to Kemensos: the hub's case. Only jenis_kasus = 'TPPO' is
-- trafficking; the other kinds must never be served.
CREATE TABLE rujukan (
    id_rujukan          integer PRIMARY KEY,
    no_rujukan          text NOT NULL,       -- RJK/2023/0042
    tgl_rujukan         date NOT NULL,       -- a real DATE column
    jenis_kasus         text NOT NULL,       -- TPPO, KDRT (domestic violence), ABH (children in conflict with the law)
    asal_rujukan        text,                -- who referred: POLRI, BP2MI, KEMLU, P2TP2A, MANDIRI
    kab_kota            text,                -- regency of the incident, typed by hand
    provinsi            text,
    negara              text,                -- country of exploitation, Indonesian name; NULL if domestic
    bentuk_eksploitasi  text                 -- ES, KP, PRT, PO, AN, PK, LN; XX is a retired code
);

-- A client (klien) of the social services: one row per human being.
CREATE TABLE klien (
    id_klien   integer PRIMARY KEY,
    nama       text NOT NULL,
    nik        text,                         -- often missing, sometimes mistyped
    jk         text,                         -- L / P
    tgl_lahir  text,                         -- DD/MM/YYYY as text, or NULL
    anak       text,                         -- Y / T: child at referral (filled when no birth date)
    kab_asal   text                          -- home regency, typed by hand
);

-- Which clients a referral concerns, and in which role (many-to-many).
CREATE TABLE rujukan_klien (
    id          integer PRIMARY KEY,
    id_rujukan  integer NOT NULL REFERENCES rujukan,
    id_klien    integer NOT NULL REFERENCES klien,
    peran       text NOT NULL                -- KORBAN (victim), SAKSI_KORBAN (victim-witness)
);

-- Services a referred client received in a centre. The shelter application stores times as
-- Unix seconds.
CREATE TABLE layanan (
    id_layanan        integer PRIMARY KEY,
    id_rujukan_klien  integer NOT NULL REFERENCES rujukan_klien,
    id_balai          integer NOT NULL REFERENCES balai,
    jenis             text NOT NULL,         -- ASRAMA, REHSOS, PSIKOSOSIAL, KESEHATAN, REUNIFIKASI, PEMULANGAN
    mulai             bigint NOT NULL,       -- Unix seconds (UTC)
    selesai           bigint,
    status            text NOT NULL          -- RENCANA, AKTIF, SELESAI
);

INSERT INTO balai VALUES
    (1, 'Sentra Handayani Jakarta', 'Kota Jakarta Timur'),
    (2, 'Sentra Terpadu Pangudi Luhur Bekasi', 'Kota Bekasi'),
    (3, 'Balai Rehabilitasi Sosial Mataram', 'Kota Mataram'),
    (4, 'Sentra Efata Kupang', 'Kota Kupang'),
    (5, 'Balai Rehabilitasi Sosial Medan', 'Kota Medan');

-- 240 referrals from 2021-01-06 on, every 5 days.
INSERT INTO rujukan
SELECT
    g,
    'RJK/' || extract(year FROM date '2021-01-01' + g * 5)::int || '/' || lpad(g::text, 4, '0'),
    date '2021-01-01' + g * 5,
    CASE WHEN g % 6 = 0 THEN 'KDRT' WHEN g % 11 = 0 THEN 'ABH' ELSE 'TPPO' END,
    (ARRAY['POLRI', 'BP2MI', 'KEMLU', 'P2TP2A', 'MANDIRI'])[1 + g % 5],
    (ARRAY['Kab. Indramayu', 'KAB. INDRAMAYU', 'Kabupaten Indramajoe', 'Kota Surabaya', 'Kota Surabaja',
           'Kab. Cilacapp', 'Kabupaten Cilacap', 'Kab. Lombok Timur', 'Kota Medan', 'Kab. Sukabumi',
           'Kota Kupang', 'Kab. Nunukan', 'Antah Berantah'])[1 + g % 13],
    (ARRAY['Jawa Barat', 'Jawa Barat', 'Jawa Barat', 'Jawa Timur', 'Jawa Timur',
           'Jawa Tengah', 'Jawa Tengah', 'Nusa Tenggara Barat', 'Sumatera Utara', 'Jawa Barat',
           'Nusa Tenggara Timur', 'Kalimantan Utara', NULL])[1 + g % 13],
    CASE
        WHEN g % 37 = 0 THEN 'Malasya'
        ELSE (ARRAY[NULL, 'Malaysia', 'Arab Saudi', 'Kamboja', 'Hongkong'])[1 + g % 5]
    END,
    CASE
        WHEN g % 29 = 0 THEN 'XX'
        ELSE (ARRAY['ES', 'KP', 'PRT', 'PO', 'AN', 'PK', 'LN', 'ES', 'KP'])[1 + g % 9]
    END
FROM generate_series(1, 240) AS g;

-- One referral typed with the wrong year: a date in the future.
INSERT INTO rujukan VALUES
    (241, 'RJK/2031/0241', date '2031-03-15', 'TPPO', 'POLRI', 'Kota Medan', 'Sumatera Utara', 'Malaysia', 'KP');

-- 300 clients. Birth dates between 1975 and 2014. A NIK is the district of registration (6 digits),
-- the birth date DDMMYY (women: day + 40) and a 4-digit serial.
INSERT INTO klien
SELECT
    g,
    (ARRAY['Siti', 'Dewi', 'Rina', 'Wulan', 'Ayu', 'Budi', 'Agus', 'Eko', 'Joko', 'Rudi'])[1 + g % 10]
        || ' ' ||
    (ARRAY['Rahayu', 'Lestari', 'Susanti', 'Wahyuni', 'Hidayat', 'Saputra', 'Nugroho', 'Pratama'])[1 + g % 8],
    CASE
        WHEN g % 23 = 0 THEN NULL
        WHEN g % 17 = 0 THEN '32120' || lpad(g::text, 10, '0')                  -- 15 digits
        WHEN g % 19 = 0 THEN '321201' || '99' || '01' || '90' || lpad(g::text, 4, '0')  -- day 99
        ELSE (ARRAY['321201', '357801', '330101', '520301', '127101'])[1 + g % 5]
            || lpad((extract(day FROM born)::int + CASE WHEN g % 10 < 5 THEN 40 ELSE 0 END)::text, 2, '0')
            || lpad(extract(month FROM born)::int::text, 2, '0')
            || lpad((extract(year FROM born)::int % 100)::text, 2, '0')
            || lpad(g::text, 4, '0')
    END,
    CASE WHEN g % 10 < 5 THEN 'P' ELSE 'L' END,
    CASE
        WHEN g = 71 THEN '31/02/1999'                                        -- not a date
        WHEN g % 7 = 0 THEN NULL
        ELSE to_char(born, 'DD/MM/YYYY')
    END,
    CASE WHEN g % 7 = 0 THEN (CASE WHEN g % 2 = 0 THEN 'Y' ELSE 'T' END) ELSE NULL END,
    (ARRAY['Kab. Indramayu', 'Kota Surabaya', 'Kab. Cilacap', 'Kab. Lombok Timur', 'Kota Medan',
           'KAB. SUKABUMI', 'Kab. Brebess'])[1 + g % 7]
FROM generate_series(1, 300) AS g,
     LATERAL (SELECT date '1975-01-01' + (g * 4871) % 14600 AS born) AS b;

-- Every referral concerns one client; every third a second one (a victim-witness). Clients
-- come back: client numbers repeat across referrals.
INSERT INTO rujukan_klien
SELECT g, g, 1 + (g * 7) % 300, 'KORBAN' FROM generate_series(1, 241) AS g;
INSERT INTO rujukan_klien
SELECT 1000 + g, g, 1 + (g * 11) % 300, 'SAKSI_KORBAN' FROM generate_series(3, 241, 3) AS g;

-- Services: every referred client gets shelter; every second social rehabilitation; every
-- fourth a return home. Dates follow the referral.
INSERT INTO layanan
SELECT
    row_number() OVER (ORDER BY rk.id, s.n),
    rk.id,
    1 + rk.id % 5,
    s.jenis,
    extract(epoch FROM (r.tgl_rujukan + s.n)::timestamp AT TIME ZONE 'UTC')::bigint,
    CASE WHEN r.tgl_rujukan + s.n + 30 < date '2024-01-01'
         THEN extract(epoch FROM (r.tgl_rujukan + s.n + 30)::timestamp AT TIME ZONE 'UTC')::bigint END,
    CASE WHEN r.tgl_rujukan + s.n + 30 < date '2024-01-01' THEN 'SELESAI' ELSE 'AKTIF' END
FROM rujukan_klien AS rk
JOIN rujukan AS r USING (id_rujukan)
JOIN LATERAL (
    SELECT 'ASRAMA' AS jenis, 1 AS n
    UNION ALL SELECT 'REHSOS', 3 WHERE rk.id % 2 = 0
    UNION ALL SELECT 'PEMULANGAN', 40 WHERE rk.id % 4 = 0
) AS s ON true;
