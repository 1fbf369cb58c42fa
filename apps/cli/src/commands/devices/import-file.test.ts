import { describe, expect, it } from 'vitest';
import { parseImportFile } from './import-file.js';

describe('an import file', () => {
  it('reads CSV with a header: id, model, and labels as key=value,…', () => {
    const parsed = parseImportFile(
      'cams.csv',
      'id,model,labels\ncam-1,cam-x1,"site=berlin,tier=canary"\ncam-2,,\n',
    );
    expect(parsed).toEqual({
      format: 'csv',
      rows: [
        {
          line: 2,
          device: { deviceId: 'cam-1', model: 'cam-x1', labels: { site: 'berlin', tier: 'canary' } },
        },
        { line: 3, device: { deviceId: 'cam-2', model: 'unknown', labels: {} } },
      ],
      refused: [],
    });
  });

  it('refuses bad rows with their line and reason, and keeps the rest', () => {
    const parsed = parseImportFile(
      'cams.csv',
      [
        'id,model,labels',
        'cam-1,cam-x1,site=a',
        'bad id!,cam-x1,',
        ',cam-x1,',
        'cam-2,cam-x1,site',
        'cam-1,cam-x2,',
        'cam-3,cam-x1,',
      ].join('\n'),
    );
    expect(parsed.rows.map((row) => [row.line, row.device.deviceId])).toEqual([
      [2, 'cam-1'],
      [7, 'cam-3'],
    ]);
    expect(parsed.refused.map(({ line, deviceId }) => [line, deviceId])).toEqual([
      [3, 'bad id!'],
      [4, null],
      [5, 'cam-2'],
      [6, 'cam-1'],
    ]);
    expect(parsed.refused[0]?.reason).toMatch(/^id: /);
    expect(parsed.refused[1]?.reason).toBe('no id');
    expect(parsed.refused[2]?.reason).toMatch(/labels.*key=value/);
    expect(parsed.refused[3]?.reason).toBe('the id appears again (first on line 2)');
  });

  it('counts lines as the file has them, quoted line breaks included', () => {
    const parsed = parseImportFile('cams.csv', 'id,labels\ncam-1,"site=a,\ntier=b"\nbad id!,\n');
    expect(parsed.rows[0]?.device.labels).toEqual({ site: 'a', tier: 'b' });
    expect(parsed.refused.map((row) => row.line)).toEqual([4]);
  });

  it('reads JSON lines (by extension or by content), refusing what is not an object', () => {
    const text = [
      '{"id":"cam-1","model":"cam-x1","labels":{"site":"oslo"}}',
      '',
      'not json',
      '[1]',
      '{"id":"cam-2","labels":{"site":7}}',
    ].join('\n');
    for (const path of ['cams.jsonl', 'cams.txt']) {
      const parsed = parseImportFile(path, text);
      expect(parsed.format).toBe('jsonl');
      expect(parsed.rows).toEqual([
        { line: 1, device: { deviceId: 'cam-1', model: 'cam-x1', labels: { site: 'oslo' } } },
      ]);
      expect(parsed.refused.map(({ line, reason }) => [line, reason.split(':')[0]])).toEqual([
        [3, 'not JSON'],
        [4, 'not a JSON object'],
        [5, 'labels'],
      ]);
    }
  });

  it('refuses a CSV without an id column, or that is not CSV, as a whole', () => {
    expect(() => parseImportFile('cams.csv', 'name,model\ncam-1,x\n')).toThrow(/must name an id column/);
    expect(() => parseImportFile('cams.csv', 'id,model\n"cam-1,x\n')).toThrow(/cams\.csv/);
  });
});
