
    return module.exports;
  })
