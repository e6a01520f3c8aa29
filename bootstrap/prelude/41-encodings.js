  // -------------------------------------------------------------------------
  // The Encoding standard's legacy single-byte encodings, for TextDecoder
  // (40-encoding.js): for each, the code points of bytes 0x80..0xFF (bytes
  // below 0x80 are ASCII), U+FFFD where the index has none. The data are
  // the standard's index-*.txt files (https://encoding.spec.whatwg.org/),
  // as encoding_rs implements them (read through Deno's TextDecoder), and
  // agree with Python's codecs of the same names except where the standard
  // maps a byte the codec leaves unmapped (0x81 of windows-1252 is
  // U+0081). A lazy part of the prelude (README.md "Lazy parts"), script
  // isopool:bootstrap/encodings: one function, singleByteIndex(name),
  // compiled only when a context first decodes one of these, which pays
  // for the strings of that one only.

  (function singleByteIndex(name) {
    "use strict";
    const indexes = {
      "ibm866":
        "\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041a" +
        "\u041b\u041c\u041d\u041e\u041f\u0420\u0421\u0422\u0423\u0424\u0425" +
        "\u0426\u0427\u0428\u0429\u042a\u042b\u042c\u042d\u042e\u042f\u0430" +
        "\u0431\u0432\u0433\u0434\u0435\u0436\u0437\u0438\u0439\u043a\u043b" +
        "\u043c\u043d\u043e\u043f\u2591\u2592\u2593\u2502\u2524\u2561\u2562" +
        "\u2556\u2555\u2563\u2551\u2557\u255d\u255c\u255b\u2510\u2514\u2534" +
        "\u252c\u251c\u2500\u253c\u255e\u255f\u255a\u2554\u2569\u2566\u2560" +
        "\u2550\u256c\u2567\u2568\u2564\u2565\u2559\u2558\u2552\u2553\u256b" +
        "\u256a\u2518\u250c\u2588\u2584\u258c\u2590\u2580\u0440\u0441\u0442" +
        "\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044a\u044b\u044c\u044d" +
        "\u044e\u044f\u0401\u0451\u0404\u0454\u0407\u0457\u040e\u045e\xb0" +
        "\u2219\xb7\u221a\u2116\xa4\u25a0\xa0",
      "iso-8859-2":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0104\u02d8\u0141\xa4\u013d\u015a\xa7\xa8\u0160\u015e\u0164" +
        "\u0179\xad\u017d\u017b\xb0\u0105\u02db\u0142\xb4\u013e\u015b\u02c7" +
        "\xb8\u0161\u015f\u0165\u017a\u02dd\u017e\u017c\u0154\xc1\xc2\u0102" +
        "\xc4\u0139\u0106\xc7\u010c\xc9\u0118\xcb\u011a\xcd\xce\u010e\u0110" +
        "\u0143\u0147\xd3\xd4\u0150\xd6\xd7\u0158\u016e\xda\u0170\xdc\xdd" +
        "\u0162\xdf\u0155\xe1\xe2\u0103\xe4\u013a\u0107\xe7\u010d\xe9\u0119" +
        "\xeb\u011b\xed\xee\u010f\u0111\u0144\u0148\xf3\xf4\u0151\xf6\xf7" +
        "\u0159\u016f\xfa\u0171\xfc\xfd\u0163\u02d9",
      "iso-8859-3":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0126\u02d8\xa3\xa4\ufffd\u0124\xa7\xa8\u0130\u015e\u011e" +
        "\u0134\xad\ufffd\u017b\xb0\u0127\xb2\xb3\xb4\xb5\u0125\xb7\xb8" +
        "\u0131\u015f\u011f\u0135\xbd\ufffd\u017c\xc0\xc1\xc2\ufffd\xc4" +
        "\u010a\u0108\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\ufffd\xd1\xd2\xd3" +
        "\xd4\u0120\xd6\xd7\u011c\xd9\xda\xdb\xdc\u016c\u015c\xdf\xe0\xe1" +
        "\xe2\ufffd\xe4\u010b\u0109\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef" +
        "\ufffd\xf1\xf2\xf3\xf4\u0121\xf6\xf7\u011d\xf9\xfa\xfb\xfc\u016d" +
        "\u015d\u02d9",
      "iso-8859-4":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0104\u0138\u0156\xa4\u0128\u013b\xa7\xa8\u0160\u0112\u0122" +
        "\u0166\xad\u017d\xaf\xb0\u0105\u02db\u0157\xb4\u0129\u013c\u02c7" +
        "\xb8\u0161\u0113\u0123\u0167\u014a\u017e\u014b\u0100\xc1\xc2\xc3" +
        "\xc4\xc5\xc6\u012e\u010c\xc9\u0118\xcb\u0116\xcd\xce\u012a\u0110" +
        "\u0145\u014c\u0136\xd4\xd5\xd6\xd7\xd8\u0172\xda\xdb\xdc\u0168" +
        "\u016a\xdf\u0101\xe1\xe2\xe3\xe4\xe5\xe6\u012f\u010d\xe9\u0119\xeb" +
        "\u0117\xed\xee\u012b\u0111\u0146\u014d\u0137\xf4\xf5\xf6\xf7\xf8" +
        "\u0173\xfa\xfb\xfc\u0169\u016b\u02d9",
      "iso-8859-5":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0401\u0402\u0403\u0404\u0405\u0406\u0407\u0408\u0409\u040a" +
        "\u040b\u040c\xad\u040e\u040f\u0410\u0411\u0412\u0413\u0414\u0415" +
        "\u0416\u0417\u0418\u0419\u041a\u041b\u041c\u041d\u041e\u041f\u0420" +
        "\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042a\u042b" +
        "\u042c\u042d\u042e\u042f\u0430\u0431\u0432\u0433\u0434\u0435\u0436" +
        "\u0437\u0438\u0439\u043a\u043b\u043c\u043d\u043e\u043f\u0440\u0441" +
        "\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044a\u044b\u044c" +
        "\u044d\u044e\u044f\u2116\u0451\u0452\u0453\u0454\u0455\u0456\u0457" +
        "\u0458\u0459\u045a\u045b\u045c\xa7\u045e\u045f",
      "iso-8859-6":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\ufffd\ufffd\ufffd\xa4\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd" +
        "\ufffd\u060c\xad\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\u061b\ufffd\ufffd\ufffd\u061f\ufffd" +
        "\u0621\u0622\u0623\u0624\u0625\u0626\u0627\u0628\u0629\u062a\u062b" +
        "\u062c\u062d\u062e\u062f\u0630\u0631\u0632\u0633\u0634\u0635\u0636" +
        "\u0637\u0638\u0639\u063a\ufffd\ufffd\ufffd\ufffd\ufffd\u0640\u0641" +
        "\u0642\u0643\u0644\u0645\u0646\u0647\u0648\u0649\u064a\u064b\u064c" +
        "\u064d\u064e\u064f\u0650\u0651\u0652\ufffd\ufffd\ufffd\ufffd\ufffd" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd",
      "iso-8859-7":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u2018\u2019\xa3\u20ac\u20af\xa6\xa7\xa8\xa9\u037a\xab\xac\xad" +
        "\ufffd\u2015\xb0\xb1\xb2\xb3\u0384\u0385\u0386\xb7\u0388\u0389" +
        "\u038a\xbb\u038c\xbd\u038e\u038f\u0390\u0391\u0392\u0393\u0394" +
        "\u0395\u0396\u0397\u0398\u0399\u039a\u039b\u039c\u039d\u039e\u039f" +
        "\u03a0\u03a1\ufffd\u03a3\u03a4\u03a5\u03a6\u03a7\u03a8\u03a9\u03aa" +
        "\u03ab\u03ac\u03ad\u03ae\u03af\u03b0\u03b1\u03b2\u03b3\u03b4\u03b5" +
        "\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd\u03be\u03bf\u03c0" +
        "\u03c1\u03c2\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8\u03c9\u03ca\u03cb" +
        "\u03cc\u03cd\u03ce\ufffd",
      "iso-8859-8":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\ufffd\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xd7\xab\xac\xad\xae\xaf" +
        "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xf7\xbb\xbc\xbd\xbe\ufffd" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\u2017\u05d0" +
        "\u05d1\u05d2\u05d3\u05d4\u05d5\u05d6\u05d7\u05d8\u05d9\u05da\u05db" +
        "\u05dc\u05dd\u05de\u05df\u05e0\u05e1\u05e2\u05e3\u05e4\u05e5\u05e6" +
        "\u05e7\u05e8\u05e9\u05ea\ufffd\ufffd\u200e\u200f\ufffd",
      "iso-8859-10":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0104\u0112\u0122\u012a\u0128\u0136\xa7\u013b\u0110\u0160" +
        "\u0166\u017d\xad\u016a\u014a\xb0\u0105\u0113\u0123\u012b\u0129" +
        "\u0137\xb7\u013c\u0111\u0161\u0167\u017e\u2015\u016b\u014b\u0100" +
        "\xc1\xc2\xc3\xc4\xc5\xc6\u012e\u010c\xc9\u0118\xcb\u0116\xcd\xce" +
        "\xcf\xd0\u0145\u014c\xd3\xd4\xd5\xd6\u0168\xd8\u0172\xda\xdb\xdc" +
        "\xdd\xde\xdf\u0101\xe1\xe2\xe3\xe4\xe5\xe6\u012f\u010d\xe9\u0119" +
        "\xeb\u0117\xed\xee\xef\xf0\u0146\u014d\xf3\xf4\xf5\xf6\u0169\xf8" +
        "\u0173\xfa\xfb\xfc\xfd\xfe\u0138",
      "iso-8859-13":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u201d\xa2\xa3\xa4\u201e\xa6\xa7\xd8\xa9\u0156\xab\xac\xad\xae" +
        "\xc6\xb0\xb1\xb2\xb3\u201c\xb5\xb6\xb7\xf8\xb9\u0157\xbb\xbc\xbd" +
        "\xbe\xe6\u0104\u012e\u0100\u0106\xc4\xc5\u0118\u0112\u010c\xc9" +
        "\u0179\u0116\u0122\u0136\u012a\u013b\u0160\u0143\u0145\xd3\u014c" +
        "\xd5\xd6\xd7\u0172\u0141\u015a\u016a\xdc\u017b\u017d\xdf\u0105" +
        "\u012f\u0101\u0107\xe4\xe5\u0119\u0113\u010d\xe9\u017a\u0117\u0123" +
        "\u0137\u012b\u013c\u0161\u0144\u0146\xf3\u014d\xf5\xf6\xf7\u0173" +
        "\u0142\u015b\u016b\xfc\u017c\u017e\u2019",
      "iso-8859-14":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u1e02\u1e03\xa3\u010a\u010b\u1e0a\xa7\u1e80\xa9\u1e82\u1e0b" +
        "\u1ef2\xad\xae\u0178\u1e1e\u1e1f\u0120\u0121\u1e40\u1e41\xb6\u1e56" +
        "\u1e81\u1e57\u1e83\u1e60\u1ef3\u1e84\u1e85\u1e61\xc0\xc1\xc2\xc3" +
        "\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\u0174\xd1\xd2\xd3" +
        "\xd4\xd5\xd6\u1e6a\xd8\xd9\xda\xdb\xdc\xdd\u0176\xdf\xe0\xe1\xe2" +
        "\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\u0175\xf1\xf2" +
        "\xf3\xf4\xf5\xf6\u1e6b\xf8\xf9\xfa\xfb\xfc\xfd\u0177\xff",
      "iso-8859-15":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\xa1\xa2\xa3\u20ac\xa5\u0160\xa7\u0161\xa9\xaa\xab\xac\xad\xae" +
        "\xaf\xb0\xb1\xb2\xb3\u017d\xb5\xb6\xb7\u017e\xb9\xba\xbb\u0152" +
        "\u0153\u0178\xbf\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb" +
        "\xcc\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb" +
        "\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb" +
        "\xec\xed\xee\xef\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb" +
        "\xfc\xfd\xfe\xff",
      "iso-8859-16":
        "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f" +
        "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f" +
        "\xa0\u0104\u0105\u0141\u20ac\u201e\u0160\xa7\u0161\xa9\u0218\xab" +
        "\u0179\xad\u017a\u017b\xb0\xb1\u010c\u0142\u017d\u201d\xb6\xb7" +
        "\u017e\u010d\u0219\xbb\u0152\u0153\u0178\u017c\xc0\xc1\xc2\u0102" +
        "\xc4\u0106\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\u0110\u0143\xd2" +
        "\xd3\xd4\u0150\xd6\u015a\u0170\xd9\xda\xdb\xdc\u0118\u021a\xdf\xe0" +
        "\xe1\xe2\u0103\xe4\u0107\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef" +
        "\u0111\u0144\xf2\xf3\xf4\u0151\xf6\u015b\u0171\xf9\xfa\xfb\xfc" +
        "\u0119\u021b\xff",
      "koi8-r":
        "\u2500\u2502\u250c\u2510\u2514\u2518\u251c\u2524\u252c\u2534\u253c" +
        "\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593\u2320\u25a0\u2219" +
        "\u221a\u2248\u2264\u2265\xa0\u2321\xb0\xb2\xb7\xf7\u2550\u2551" +
        "\u2552\u0451\u2553\u2554\u2555\u2556\u2557\u2558\u2559\u255a\u255b" +
        "\u255c\u255d\u255e\u255f\u2560\u2561\u0401\u2562\u2563\u2564\u2565" +
        "\u2566\u2567\u2568\u2569\u256a\u256b\u256c\xa9\u044e\u0430\u0431" +
        "\u0446\u0434\u0435\u0444\u0433\u0445\u0438\u0439\u043a\u043b\u043c" +
        "\u043d\u043e\u043f\u044f\u0440\u0441\u0442\u0443\u0436\u0432\u044c" +
        "\u044b\u0437\u0448\u044d\u0449\u0447\u044a\u042e\u0410\u0411\u0426" +
        "\u0414\u0415\u0424\u0413\u0425\u0418\u0419\u041a\u041b\u041c\u041d" +
        "\u041e\u041f\u042f\u0420\u0421\u0422\u0423\u0416\u0412\u042c\u042b" +
        "\u0417\u0428\u042d\u0429\u0427\u042a",
      "koi8-u":
        "\u2500\u2502\u250c\u2510\u2514\u2518\u251c\u2524\u252c\u2534\u253c" +
        "\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593\u2320\u25a0\u2219" +
        "\u221a\u2248\u2264\u2265\xa0\u2321\xb0\xb2\xb7\xf7\u2550\u2551" +
        "\u2552\u0451\u0454\u2554\u0456\u0457\u2557\u2558\u2559\u255a\u255b" +
        "\u0491\u045e\u255e\u255f\u2560\u2561\u0401\u0404\u2563\u0406\u0407" +
        "\u2566\u2567\u2568\u2569\u256a\u0490\u040e\xa9\u044e\u0430\u0431" +
        "\u0446\u0434\u0435\u0444\u0433\u0445\u0438\u0439\u043a\u043b\u043c" +
        "\u043d\u043e\u043f\u044f\u0440\u0441\u0442\u0443\u0436\u0432\u044c" +
        "\u044b\u0437\u0448\u044d\u0449\u0447\u044a\u042e\u0410\u0411\u0426" +
        "\u0414\u0415\u0424\u0413\u0425\u0418\u0419\u041a\u041b\u041c\u041d" +
        "\u041e\u041f\u042f\u0420\u0421\u0422\u0423\u0416\u0412\u042c\u042b" +
        "\u0417\u0428\u042d\u0429\u0427\u042a",
      "macintosh":
        "\xc4\xc5\xc7\xc9\xd1\xd6\xdc\xe1\xe0\xe2\xe4\xe3\xe5\xe7\xe9\xe8" +
        "\xea\xeb\xed\xec\xee\xef\xf1\xf3\xf2\xf4\xf6\xf5\xfa\xf9\xfb\xfc" +
        "\u2020\xb0\xa2\xa3\xa7\u2022\xb6\xdf\xae\xa9\u2122\xb4\xa8\u2260" +
        "\xc6\xd8\u221e\xb1\u2264\u2265\xa5\xb5\u2202\u2211\u220f\u03c0" +
        "\u222b\xaa\xba\u03a9\xe6\xf8\xbf\xa1\xac\u221a\u0192\u2248\u2206" +
        "\xab\xbb\u2026\xa0\xc0\xc3\xd5\u0152\u0153\u2013\u2014\u201c\u201d" +
        "\u2018\u2019\xf7\u25ca\xff\u0178\u2044\u20ac\u2039\u203a\ufb01" +
        "\ufb02\u2021\xb7\u201a\u201e\u2030\xc2\xca\xc1\xcb\xc8\xcd\xce\xcf" +
        "\xcc\xd3\xd4\uf8ff\xd2\xda\xdb\xd9\u0131\u02c6\u02dc\xaf\u02d8" +
        "\u02d9\u02da\xb8\u02dd\u02db\u02c7",
      "windows-874":
        "\u20ac\x81\x82\x83\x84\u2026\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e" +
        "\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\x98\x99\x9a\x9b" +
        "\x9c\x9d\x9e\x9f\xa0\u0e01\u0e02\u0e03\u0e04\u0e05\u0e06\u0e07" +
        "\u0e08\u0e09\u0e0a\u0e0b\u0e0c\u0e0d\u0e0e\u0e0f\u0e10\u0e11\u0e12" +
        "\u0e13\u0e14\u0e15\u0e16\u0e17\u0e18\u0e19\u0e1a\u0e1b\u0e1c\u0e1d" +
        "\u0e1e\u0e1f\u0e20\u0e21\u0e22\u0e23\u0e24\u0e25\u0e26\u0e27\u0e28" +
        "\u0e29\u0e2a\u0e2b\u0e2c\u0e2d\u0e2e\u0e2f\u0e30\u0e31\u0e32\u0e33" +
        "\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a\ufffd\ufffd\ufffd\ufffd" +
        "\u0e3f\u0e40\u0e41\u0e42\u0e43\u0e44\u0e45\u0e46\u0e47\u0e48\u0e49" +
        "\u0e4a\u0e4b\u0e4c\u0e4d\u0e4e\u0e4f\u0e50\u0e51\u0e52\u0e53\u0e54" +
        "\u0e55\u0e56\u0e57\u0e58\u0e59\u0e5a\u0e5b\ufffd\ufffd\ufffd\ufffd",
      "windows-1250":
        "\u20ac\x81\u201a\x83\u201e\u2026\u2020\u2021\x88\u2030\u0160\u2039" +
        "\u015a\u0164\u017d\u0179\x90\u2018\u2019\u201c\u201d\u2022\u2013" +
        "\u2014\x98\u2122\u0161\u203a\u015b\u0165\u017e\u017a\xa0\u02c7" +
        "\u02d8\u0141\xa4\u0104\xa6\xa7\xa8\xa9\u015e\xab\xac\xad\xae\u017b" +
        "\xb0\xb1\u02db\u0142\xb4\xb5\xb6\xb7\xb8\u0105\u015f\xbb\u013d" +
        "\u02dd\u013e\u017c\u0154\xc1\xc2\u0102\xc4\u0139\u0106\xc7\u010c" +
        "\xc9\u0118\xcb\u011a\xcd\xce\u010e\u0110\u0143\u0147\xd3\xd4\u0150" +
        "\xd6\xd7\u0158\u016e\xda\u0170\xdc\xdd\u0162\xdf\u0155\xe1\xe2" +
        "\u0103\xe4\u013a\u0107\xe7\u010d\xe9\u0119\xeb\u011b\xed\xee\u010f" +
        "\u0111\u0144\u0148\xf3\xf4\u0151\xf6\xf7\u0159\u016f\xfa\u0171\xfc" +
        "\xfd\u0163\u02d9",
      "windows-1251":
        "\u0402\u0403\u201a\u0453\u201e\u2026\u2020\u2021\u20ac\u2030\u0409" +
        "\u2039\u040a\u040c\u040b\u040f\u0452\u2018\u2019\u201c\u201d\u2022" +
        "\u2013\u2014\x98\u2122\u0459\u203a\u045a\u045c\u045b\u045f\xa0" +
        "\u040e\u045e\u0408\xa4\u0490\xa6\xa7\u0401\xa9\u0404\xab\xac\xad" +
        "\xae\u0407\xb0\xb1\u0406\u0456\u0491\xb5\xb6\xb7\u0451\u2116\u0454" +
        "\xbb\u0458\u0405\u0455\u0457\u0410\u0411\u0412\u0413\u0414\u0415" +
        "\u0416\u0417\u0418\u0419\u041a\u041b\u041c\u041d\u041e\u041f\u0420" +
        "\u0421\u0422\u0423\u0424\u0425\u0426\u0427\u0428\u0429\u042a\u042b" +
        "\u042c\u042d\u042e\u042f\u0430\u0431\u0432\u0433\u0434\u0435\u0436" +
        "\u0437\u0438\u0439\u043a\u043b\u043c\u043d\u043e\u043f\u0440\u0441" +
        "\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044a\u044b\u044c" +
        "\u044d\u044e\u044f",
      "windows-1252":
        "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160" +
        "\u2039\u0152\x8d\u017d\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013" +
        "\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178\xa0\xa1\xa2" +
        "\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2" +
        "\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2" +
        "\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\xd0\xd1\xd2" +
        "\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2" +
        "\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\xf0\xf1\xf2" +
        "\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff",
      "windows-1253":
        "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\x88\u2030\x8a\u2039" +
        "\x8c\x8d\x8e\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\x98" +
        "\u2122\x9a\u203a\x9c\x9d\x9e\x9f\xa0\u0385\u0386\xa3\xa4\xa5\xa6" +
        "\xa7\xa8\xa9\ufffd\xab\xac\xad\xae\u2015\xb0\xb1\xb2\xb3\u0384\xb5" +
        "\xb6\xb7\u0388\u0389\u038a\xbb\u038c\xbd\u038e\u038f\u0390\u0391" +
        "\u0392\u0393\u0394\u0395\u0396\u0397\u0398\u0399\u039a\u039b\u039c" +
        "\u039d\u039e\u039f\u03a0\u03a1\ufffd\u03a3\u03a4\u03a5\u03a6\u03a7" +
        "\u03a8\u03a9\u03aa\u03ab\u03ac\u03ad\u03ae\u03af\u03b0\u03b1\u03b2" +
        "\u03b3\u03b4\u03b5\u03b6\u03b7\u03b8\u03b9\u03ba\u03bb\u03bc\u03bd" +
        "\u03be\u03bf\u03c0\u03c1\u03c2\u03c3\u03c4\u03c5\u03c6\u03c7\u03c8" +
        "\u03c9\u03ca\u03cb\u03cc\u03cd\u03ce\ufffd",
      "windows-1254":
        "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160" +
        "\u2039\u0152\x8d\x8e\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013" +
        "\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\x9e\u0178\xa0\xa1\xa2\xa3" +
        "\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3" +
        "\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\xc3" +
        "\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf\u011e\xd1\xd2\xd3" +
        "\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\u0130\u015e\xdf\xe0\xe1\xe2" +
        "\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef\u011f\xf1\xf2" +
        "\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\u0131\u015f\xff",
      "windows-1255":
        "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\x8a" +
        "\u2039\x8c\x8d\x8e\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013" +
        "\u2014\u02dc\u2122\x9a\u203a\x9c\x9d\x9e\x9f\xa0\xa1\xa2\xa3\u20aa" +
        "\xa5\xa6\xa7\xa8\xa9\xd7\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3\xb4" +
        "\xb5\xb6\xb7\xb8\xb9\xf7\xbb\xbc\xbd\xbe\xbf\u05b0\u05b1\u05b2" +
        "\u05b3\u05b4\u05b5\u05b6\u05b7\u05b8\u05b9\u05ba\u05bb\u05bc\u05bd" +
        "\u05be\u05bf\u05c0\u05c1\u05c2\u05c3\u05f0\u05f1\u05f2\u05f3\u05f4" +
        "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\u05d0\u05d1\u05d2\u05d3" +
        "\u05d4\u05d5\u05d6\u05d7\u05d8\u05d9\u05da\u05db\u05dc\u05dd\u05de" +
        "\u05df\u05e0\u05e1\u05e2\u05e3\u05e4\u05e5\u05e6\u05e7\u05e8\u05e9" +
        "\u05ea\ufffd\ufffd\u200e\u200f\ufffd",
      "windows-1256":
        "\u20ac\u067e\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0679" +
        "\u2039\u0152\u0686\u0698\u0688\u06af\u2018\u2019\u201c\u201d\u2022" +
        "\u2013\u2014\u06a9\u2122\u0691\u203a\u0153\u200c\u200d\u06ba\xa0" +
        "\u060c\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\u06be\xab\xac\xad\xae\xaf" +
        "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\u061b\xbb\xbc\xbd\xbe" +
        "\u061f\u06c1\u0621\u0622\u0623\u0624\u0625\u0626\u0627\u0628\u0629" +
        "\u062a\u062b\u062c\u062d\u062e\u062f\u0630\u0631\u0632\u0633\u0634" +
        "\u0635\u0636\xd7\u0637\u0638\u0639\u063a\u0640\u0641\u0642\u0643" +
        "\xe0\u0644\xe2\u0645\u0646\u0647\u0648\xe7\xe8\xe9\xea\xeb\u0649" +
        "\u064a\xee\xef\u064b\u064c\u064d\u064e\xf4\u064f\u0650\xf7\u0651" +
        "\xf9\u0652\xfb\xfc\u200e\u200f\u06d2",
      "windows-1257":
        "\u20ac\x81\u201a\x83\u201e\u2026\u2020\u2021\x88\u2030\x8a\u2039" +
        "\x8c\xa8\u02c7\xb8\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014" +
        "\x98\u2122\x9a\u203a\x9c\xaf\u02db\x9f\xa0\ufffd\xa2\xa3\xa4\ufffd" +
        "\xa6\xa7\xd8\xa9\u0156\xab\xac\xad\xae\xc6\xb0\xb1\xb2\xb3\xb4\xb5" +
        "\xb6\xb7\xf8\xb9\u0157\xbb\xbc\xbd\xbe\xe6\u0104\u012e\u0100\u0106" +
        "\xc4\xc5\u0118\u0112\u010c\xc9\u0179\u0116\u0122\u0136\u012a\u013b" +
        "\u0160\u0143\u0145\xd3\u014c\xd5\xd6\xd7\u0172\u0141\u015a\u016a" +
        "\xdc\u017b\u017d\xdf\u0105\u012f\u0101\u0107\xe4\xe5\u0119\u0113" +
        "\u010d\xe9\u017a\u0117\u0123\u0137\u012b\u013c\u0161\u0144\u0146" +
        "\xf3\u014d\xf5\xf6\xf7\u0173\u0142\u015b\u016b\xfc\u017c\u017e" +
        "\u02d9",
      "windows-1258":
        "\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\x8a" +
        "\u2039\u0152\x8d\x8e\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013" +
        "\u2014\u02dc\u2122\x9a\u203a\u0153\x9d\x9e\u0178\xa0\xa1\xa2\xa3" +
        "\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf\xb0\xb1\xb2\xb3" +
        "\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf\xc0\xc1\xc2\u0102" +
        "\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\u0300\xcd\xce\xcf\u0110\xd1\u0309" +
        "\xd3\xd4\u01a0\xd6\xd7\xd8\xd9\xda\xdb\xdc\u01af\u0303\xdf\xe0\xe1" +
        "\xe2\u0103\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\u0301\xed\xee\xef\u0111" +
        "\xf1\u0323\xf3\xf4\u01a1\xf6\xf7\xf8\xf9\xfa\xfb\xfc\u01b0\u20ab" +
        "\xff",
      "x-mac-cyrillic":
        "\u0410\u0411\u0412\u0413\u0414\u0415\u0416\u0417\u0418\u0419\u041a" +
        "\u041b\u041c\u041d\u041e\u041f\u0420\u0421\u0422\u0423\u0424\u0425" +
        "\u0426\u0427\u0428\u0429\u042a\u042b\u042c\u042d\u042e\u042f\u2020" +
        "\xb0\u0490\xa3\xa7\u2022\xb6\u0406\xae\xa9\u2122\u0402\u0452\u2260" +
        "\u0403\u0453\u221e\xb1\u2264\u2265\u0456\xb5\u0491\u0408\u0404" +
        "\u0454\u0407\u0457\u0409\u0459\u040a\u045a\u0458\u0405\xac\u221a" +
        "\u0192\u2248\u2206\xab\xbb\u2026\xa0\u040b\u045b\u040c\u045c\u0455" +
        "\u2013\u2014\u201c\u201d\u2018\u2019\xf7\u201e\u040e\u045e\u040f" +
        "\u045f\u2116\u0401\u0451\u044f\u0430\u0431\u0432\u0433\u0434\u0435" +
        "\u0436\u0437\u0438\u0439\u043a\u043b\u043c\u043d\u043e\u043f\u0440" +
        "\u0441\u0442\u0443\u0444\u0445\u0446\u0447\u0448\u0449\u044a\u044b" +
        "\u044c\u044d\u044e\u20ac",
    };
    // iso-8859-8-i decodes as iso-8859-8 (the standard gives both one
    // index; the name only says the text is in logical order)
    return indexes[name === "iso-8859-8-i" ? "iso-8859-8" : name];
  })

